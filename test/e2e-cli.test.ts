import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, parseSafetensors } from '../engine/safetensors.js';
import { COLUMN, GENERATORS } from '../lee/transforms.js';
import { e2eColumns } from '../lee/report.js';
import { IMAGENET_LEMMAS } from '../models/imagenet-classes.js';
import { relL2 } from './helpers/compare.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');
const dir = mkdtempSync(join(tmpdir(), 'lee-e2e-'));

function lee(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/lee.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit 1, one `lee e2e:` line matching `re`, no stack trace. */
function expectUserError(r: ReturnType<typeof lee>, re: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('lee '));
  expect(lines, r.stderr).toHaveLength(1);
  // the message may go on over indented lines (lists of keys)
  expect(r.stderr.slice(r.stderr.indexOf(lines[0]!))).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

const fixtureInput = join(dir, 'input.safetensors');
beforeAll(() => {
  const io = parseSafetensors(readFileSync(join(FIX, 'models/resnet18_mini.io.safetensors')));
  const input = io.tensors.get('input')!;
  writeFileSync(fixtureInput, encodeSafetensors({ images: { shape: input.shape, data: input.data } }));
});

describe('lee e2e', () => {
  it('runs a seeded random model on the synthetic images and writes the CSV header the paper reads', () => {
    const out = join(dir, 'default.csv');
    const r = lee('e2e', '--model', 'resnet18', '--transforms', 'rotate,translate_x,saturate', '--out', out, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: resnet18 with RANDOM weights/m);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(e2eColumns().join(','));
    expect(lines[0]!.split(',').slice(0, 10)).toEqual([
      'image', 'model', 'trans_x_deriv', 'trans_y_deriv', 'rot_deriv', 'shear_x_deriv', 'shear_y_deriv', 'stretch_x_deriv', 'stretch_y_deriv', 'saturate_err',
    ]);
    expect(lines).toHaveLength(5);
    const header = lines[0]!.split(',');
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      expect(cells[1]).toBe('resnet18');
      // a random 1000-class model: top-1 named by its ImageNet class; the synthetic
      // images have no labels
      const top1 = Number(cells[header.indexOf('top1')]);
      expect(Number.isInteger(top1) && top1 >= 0 && top1 < 1000).toBe(true);
      expect(cells[header.indexOf('top1_name')]).toBe(IMAGENET_LEMMAS[top1]!.split(',')[0]);
      expect(cells[header.indexOf('label')]).toBe('');
      expect(cells[header.indexOf('acc')]).toBe('');
      for (const g of GENERATORS) {
        const v = cells[header.indexOf(COLUMN[g])]!;
        if (['rotate', 'translate_x', 'saturate'].includes(g)) expect(Number(v)).toBeGreaterThan(0);
        else expect(v).toBe('');
      }
    }
    expect(r.stdout).toMatch(/^image\s+rotate\s+translate_x\s+saturate/m);
  });

  it('reproduces the PyTorch Lie derivatives from --weights/--input, with --raw and --json', () => {
    const raw = join(dir, 'raw.safetensors');
    const json = join(dir, 'out.json');
    const r = lee('e2e', '--model', 'resnet18', '--weights', join(FIX, 'models/resnet18_mini.safetensors'), '--input', fixtureInput,
      '--raw', raw, '--json', json, '--batch', '1', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const got = parseSafetensors(readFileSync(raw)).tensors;
    const want = parseSafetensors(readFileSync(join(FIX, 'lie/resnet18_mini.lie.safetensors'))).tensors;
    expect(got.get('logits')!.shape).toEqual([2, 10]);
    for (const g of GENERATORS) {
      const v = got.get(`lie.${g}`)!;
      expect(v.shape).toEqual([2, 10]);
      expect(relL2(v.data, want.get(`lie.bilinear.${g}`)!.data), g).toBeLessThan(1e-3);
    }
    const meta = JSON.parse(readFileSync(json, 'utf8'));
    expect(meta.model).toBe('resnet18');
    expect(meta.interp).toBe('bilinear');
    expect(meta.images).toHaveLength(2);
    expect(meta.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('gives one clear error for each kind of bad input', () => {
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'this is not a safetensors file at all');
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(join(FIX, 'models/resnet18_mini.safetensors')).subarray(0, 5000));
    const huge = join(dir, 'huge.safetensors');
    const hb = Buffer.alloc(16);
    hb.writeBigUInt64LE(10n ** 12n);
    writeFileSync(huge, hb);
    const wrongShape = join(dir, 'wrong-shape.safetensors');
    writeFileSync(wrongShape, encodeSafetensors({ images: { shape: [2, 1, 8, 8], data: new Float32Array(128) } }));
    const nan = join(dir, 'nan.safetensors');
    const nanData = new Float32Array(2 * 3 * 8 * 8);
    nanData[7] = NaN;
    writeFileSync(nan, encodeSafetensors({ images: { shape: [2, 3, 8, 8], data: nanData } }));
    const badImage = join(dir, 'broken.png');
    writeFileSync(badImage, 'not a png');
    const w = join(FIX, 'models/resnet18_mini.safetensors');

    expectUserError(lee('e2e', '--weights', join(dir, 'missing.safetensors')), /cannot read .*missing\.safetensors/);
    expectUserError(lee('e2e', '--weights', garbage), /garbage\.safetensors/);
    expectUserError(lee('e2e', '--weights', truncated), /truncated/);
    expectUserError(lee('e2e', '--weights', huge), /header too large/);
    expectUserError(lee('e2e', '--model', 'resnet50', '--weights', w), /do not match the model[\s\S]*missing keys/);
    expectUserError(lee('e2e', '--model', 'resnet9000'), /unknown model 'resnet9000'/);
    expectUserError(lee('e2e', '--transforms', 'rotate,twist'), /unknown transform 'twist'/);
    expectUserError(lee('e2e', '--input', wrongShape), /must be \[N, 3, H, W\]/);
    expectUserError(lee('e2e', '--input', nan), /NaN/);
    expectUserError(lee('e2e', '--images', badImage), /cannot decode image .*broken\.png/);
    expectUserError(lee('e2e', '--images', join(dir, 'nowhere')), /cannot read .*nowhere/);
    expectUserError(lee('e2e', '--interp', 'nearest'), /--interp must be bilinear or bicubic/);
  });
});
