import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The built CLI as a user runs it (`npm test` builds dist/ first). */
function lee(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/lee.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('lee CLI', () => {
  it('--help lists the commands', () => {
    const r = lee('--help');
    expect(r.code).toBe(0);
    for (const c of ['info', 'models', 'bench']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it('info prints the adapter and the engine version', () => {
    const r = lee('info', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { engine: string; adapter: { limits: Record<string, number> } };
    expect(report.engine).toMatch(/^lee-gpu \d+\.\d+\.\d+/);
    expect(report.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const text = lee('info');
    expect(text.stdout).toMatch(/^vendor\s+\S/m);
    expect(text.stdout).toMatch(/maxComputeWorkgroupStorageSize\s+\d+/);
  });

  it('an unknown command is one clear error and exit 1', () => {
    const r = lee('frobnicate');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    noStack(r.stderr);
  });

  it('a bad flag is one clear error and exit 1', () => {
    const r = lee('bench', '--repeats', 'many');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('lee'))).toEqual([
      "lee bench: --repeats must be an integer >= 1, got 'many'",
    ]);
    noStack(r.stderr);
    const u = lee('info', '--bogus');
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/lee info: .*--bogus/);
    noStack(u.stderr);
  });
});
