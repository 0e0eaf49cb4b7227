import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, parseSafetensors } from '../engine/safetensors.js';
import { LAYERWISE_COLUMNS } from '../lee/layerwise-report.js';
import { relL2 } from './helpers/compare.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');
const dir = mkdtempSync(join(tmpdir(), 'lee-layerwise-'));

function lee(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/lee.js', 'layerwise', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectUserError(r: ReturnType<typeof lee>, re: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('lee '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

const l2 = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

/** A model fixture's input images as an --input file. */
function inputFile(fixture: string): string {
  const io = parseSafetensors(readFileSync(join(FIX, `models/${fixture}.io.safetensors`)));
  const input = io.tensors.get('input')!;
  const path = join(dir, `${fixture}.input.safetensors`);
  writeFileSync(path, encodeSafetensors({ images: { shape: input.shape, data: input.data } }));
  return path;
}

/** Every layer of --raw against the PyTorch fixture: rel L2 <= 1e-2 for layers of at
 * least 1 % share, and within 1e-2 of the total for the rest. */
function expectRawMatchesFixture(raw: string, fixture: string, gen: string): void {
  const got = parseSafetensors(readFileSync(raw)).tensors;
  const want = parseSafetensors(readFileSync(join(FIX, `layerwise/${fixture}.layerwise.safetensors`))).tensors;
  const names = [...want.keys()].filter((k) => k.startsWith(`contrib.${gen}.`)).map((k) => k.slice(`contrib.${gen}.`.length));
  expect([...got.keys()].filter((k) => k.startsWith('contrib.')).sort()).toEqual(names.map((n) => `contrib.${n}`).sort());
  const total = names.reduce((a, n) => a + l2(want.get(`contrib.${gen}.${n}`)!.data), 0);
  for (const n of names) {
    const g = got.get(`contrib.${n}`)!.data;
    const w = want.get(`contrib.${gen}.${n}`)!.data;
    const err = l2(w) / total >= 0.01 ? relL2(g, w) : l2(g.map((v, i) => v - w[i]!)) / total;
    expect(err, n).toBeLessThanOrEqual(1e-2);
  }
  expect(relL2(got.get(`lie.${gen}`)!.data, want.get(`e2e.${gen}`)!.data)).toBeLessThan(1e-3);
}

let resnetInput = '';
beforeAll(() => {
  resnetInput = inputFile('resnet18_mini');
});

describe('lee layerwise', () => {
  it('runs a seeded random model: CSV, SVG and raw outputs agree with each other and add up', () => {
    const [csv, svg, raw] = ['default.csv', 'default.svg', 'default.safetensors'].map((f) => join(dir, f)) as [string, string, string];
    const r = lee('--model', 'resnet18', '--out', csv, '--plot', svg, '--raw', raw, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: resnet18 with RANDOM weights/m);
    expect(r.stdout).toMatch(/additivity residual \(max over images\): \d/);

    const tensors = parseSafetensors(readFileSync(raw)).tensors;
    const layers = [...tensors.keys()].filter((k) => k.startsWith('contrib.'));
    const lie = tensors.get('lie.translate_x')!;
    expect(lie.shape).toEqual([4, 1000]);
    const sum = new Float64Array(lie.data.length);
    for (const k of layers) tensors.get(k)!.data.forEach((v, i) => (sum[i]! += v));
    expect(relL2(sum, lie.data)).toBeLessThan(1e-4);

    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(LAYERWISE_COLUMNS.join(','));
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(4 * layers.length);
    const col = (name: string) => LAYERWISE_COLUMNS.indexOf(name as (typeof LAYERWISE_COLUMNS)[number]);
    const images = [...new Set(rows.map((c) => c[col('image')]!))];
    expect(images).toHaveLength(4);
    for (const image of images) {
      const mine = rows.filter((c) => c[col('image')] === image);
      expect(mine.map((c) => Number(c[col('order')]))).toEqual(mine.map((_, i) => i));
      expect(mine.reduce((a, c) => a + Number(c[col('share')]), 0)).toBeCloseTo(1, 6);
      for (const c of mine) {
        // the CSV's squared norm is the raw tensor's row norm squared
        const t = tensors.get(`contrib.${c[col('layer')]}`)!.data;
        const b = images.indexOf(image);
        const want = l2(t.subarray(b * 1000, (b + 1) * 1000)) ** 2;
        expect(Number(c[col('sq_norm')])).toBeCloseTo(want, 10);
        expect(Number(c[col('residual')])).toBeLessThan(1e-4);
        expect(c[col('model')]).toBe('resnet18');
      }
    }

    const plot = readFileSync(svg, 'utf8');
    expect(plot.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(plot.trim().endsWith('</svg>')).toBe(true);
    expect(plot.match(/<rect [^>]*><title>/g)).toHaveLength(layers.length);
    expect(plot).toContain('<title>0 conv1 (Conv2d): mean share');
  });

  it('reproduces the PyTorch per-layer values of a ResNet from --weights/--input', () => {
    const raw = join(dir, 'resnet.safetensors');
    const r = lee('--model', 'resnet18', '--weights', join(FIX, 'models/resnet18_mini.safetensors'), '--input', resnetInput,
      '--transform', 'rotate', '--raw', raw, '--batch', '1', '--chunk', '7');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/layerwise: \d+\/\d+ passes/);
    expect(r.stderr).not.toMatch(/note:|warning:/);
    expectRawMatchesFixture(raw, 'resnet18_mini', 'rotate');
  });

  // one fixture per remaining family, each with another generator; heads from the timm kwargs
  const families: [string, string][] = [
    ['vit_mini', 'translate_x'],
    ['deit_distilled_mini', 'saturate'],
    ['mixer_mini', 'rotate'],
    ['convnext_mini', 'translate_x'],
    ['convnext_convmlp_mini', 'rotate'],
  ];
  const manifest = JSON.parse(readFileSync(join(FIX, 'models/manifest.json'), 'utf8')) as {
    fixtures: { name: string; arch: string; weights: string; kwargs: { num_heads?: number } }[];
  };
  for (const [name, gen] of families) {
    it(`reproduces ${name} (${gen}) from --weights/--input`, () => {
      const f = manifest.fixtures.find((m) => m.name === name)!;
      const raw = join(dir, `${name}.safetensors`);
      const heads = f.kwargs.num_heads === undefined ? [] : ['--heads', String(f.kwargs.num_heads)];
      const r = lee('--model', f.arch, '--weights', join(FIX, `models/${f.weights}`), '--input', inputFile(name), ...heads, '--transform', gen, '--raw', raw, '--quiet');
      expect(r.code, r.stderr).toBe(0);
      expectRawMatchesFixture(raw, name, gen);
    });
  }

  it('rejects bad flags with one clear line', () => {
    expectUserError(lee('--transform', 'rotate,scale'), /--transform takes one generator, got 'rotate,scale'/);
    expectUserError(lee('--transform', 'spin'), /unknown generator|spin/);
    expectUserError(lee('--chunk', '0'), /--chunk must be an integer >= 1, got '0'/);
    expectUserError(lee('--interp', 'nearest'), /--interp must be bilinear or bicubic/);
    expectUserError(lee('--weights', join(dir, 'missing.safetensors')), /missing\.safetensors/);
    expectUserError(lee('--input', resnetInput, '--images', ROOT), /give --images or --input, not both/);
    expectUserError(lee('--model', 'resnet18', '--weights', join(FIX, 'models/vit_mini.safetensors')), /do not match|not a resnet18/);
  });
});
