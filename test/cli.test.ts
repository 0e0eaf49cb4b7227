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
    for (const c of ['info', 'models', 'e2e', 'layerwise', 'bench']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
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

  it('models lists every architecture of SPEC 4 with its parameter count and input size', () => {
    const r = lee('models', '--json');
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; params: number; input: number[] }[];
    const names = rows.map((m) => m.name);
    const wanted = [
      'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnetblur18', 'resnetblur50', 'wide_resnet50_2',
      'vit_tiny_patch16_224', 'vit_small_patch16_224', 'vit_base_patch16_224', 'vit_large_patch16_224',
      'vit_small_patch32_224', 'vit_base_patch32_224', 'vit_large_patch32_224',
      'deit_tiny_patch16_224', 'deit_small_patch16_224', 'deit_base_patch16_224',
      'deit_tiny_distilled_patch16_224', 'deit_small_distilled_patch16_224', 'deit_base_distilled_patch16_224',
      'mixer_s16_224', 'mixer_s32_224', 'mixer_b16_224', 'mixer_b32_224', 'mixer_l16_224',
      'convnext_atto', 'convnext_femto', 'convnext_pico', 'convnext_nano', 'convnext_tiny', 'convnext_small', 'convnext_base',
    ];
    expect(names.sort()).toEqual([...wanted].sort());
    // torchvision/timm's published counts
    expect(rows.find((m) => m.name === 'resnet50')!.params).toBe(25_557_032);
    expect(rows.find((m) => m.name === 'vit_base_patch16_224')!.params).toBe(86_567_656);
    for (const m of rows) expect(m.input).toEqual([3, 224, 224]);
    const text = lee('models');
    expect(text.stdout).toMatch(/^resnet50\s+resnet\s+25\.6M\s+3x224x224/m);
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
