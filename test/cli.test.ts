import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CORE_MODELS } from '../models/names.js';

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

  it('models lists every architecture of SPEC 4 and every name of the paper sweep, with parameter counts and input sizes', () => {
    const r = lee('models', '--json');
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; params: number; input: number[]; timm?: string }[];
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
    for (const n of [...wanted, ...CORE_MODELS]) expect(names, n).toContain(n);
    // torchvision/timm's published counts
    expect(rows.find((m) => m.name === 'resnet50')!.params).toBe(25_557_032);
    expect(rows.find((m) => m.name === 'vit_base_patch16_224')!.params).toBe(86_567_656);
    for (const m of rows.filter((m) => wanted.includes(m.name))) expect(m.input).toEqual([3, 224, 224]);
    // a timm 0.6 name runs its timm 0.9 tag, with that tag's preprocessing
    expect(rows.find((m) => m.name === 'convnext_tiny_in22ft1k')).toMatchObject({ timm: 'convnext_tiny.fb_in22k_ft_in1k', crop_pct: 0.875 });
    const text = lee('models');
    expect(text.stdout).toMatch(/^resnet50\s+resnet\s+25\.6M\s+3x224x224/m);
    expect(text.stdout).toMatch(/^convnext_tiny_in22ft1k\s+-> convnext_tiny\.fb_in22k_ft_in1k$/m);
  });

  it('models --sweep core lists the 83 names of the paper sweep and which are supported', () => {
    const text = lee('models', '--sweep', 'core');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^tv_resnet50\s+resnet50\.tv_in1k\s+resnet\s+yes\s+224x224\s+0\.875\s+bilinear$/m);
    expect(text.stdout).toMatch(/^inception_v3\s+inception_v3\.tv_in1k\s+inception\s+yes\s+299x299/m);
    const r = lee('models', '--sweep', 'core', '--json');
    const report = JSON.parse(r.stdout) as { total: number; supported: number; models: { name: string; supported: boolean }[] };
    expect(report.models.map((m) => m.name)).toEqual([...CORE_MODELS]);
    expect(report.total).toBe(83);
    expect(text.stdout).toContain(`${report.supported}/83 of the core sweep supported`);
    expect(lee('models', '--sweep', 'nope').stderr).toMatch(/unknown sweep 'nope' \(known: core\)/);
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
