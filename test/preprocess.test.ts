import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImage } from '../cli/images.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { evalGeometry } from '../lee/preprocess.js';
import { resizeRgb } from '../lee/resize.js';
import type { Preprocess } from '../models/spec.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'preprocess');
const PHOTOS = join(import.meta.dirname, '..', 'assets', 'photos');

interface Case {
  name: string;
  input_size: [number, number, number];
  crop_pct: number;
  crop_mode: 'center' | 'squash' | 'border';
  interpolation: 'bicubic' | 'bilinear';
  mean: [number, number, number];
  std: [number, number, number];
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { photos: string[]; cases: Case[] };

describe("image preprocessing against timm's eval transform (scripts/gen_preprocess_fixtures.py)", async () => {
  const want = (await loadSafetensors(join(FIXTURES, 'preprocess.safetensors'))).tensors;
  for (const c of manifest.cases) {
    for (const photo of manifest.photos) {
      it(`${c.name} on ${photo}`, async () => {
        const pre: Preprocess = { inputSize: c.input_size, cropPct: c.crop_pct, cropMode: c.crop_mode, interpolation: c.interpolation, mean: c.mean, std: c.std };
        const x = await loadImage(join(PHOTOS, photo), pre);
        const ref = want.get(`${c.name}.${photo}`)!.data;
        expect(x.length).toBe(ref.length);
        // PIL's resampling is reproduced bit for bit (lee/resize.ts), so the only
        // difference left is float32 rounding of the normalisation; one 8-bit level
        // would be 1/255/std > 0.01
        const plane = x.length / 3;
        let max = 0;
        for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - ref[i]!) * c.std[Math.floor(i / plane)]!);
        expect(max).toBeLessThan(1e-6);
      });
    }
  }
});

describe('eval geometry', () => {
  const pre = (size: number, cropPct: number, cropMode: Preprocess['cropMode']): Preprocess => ({
    inputSize: [3, size, size],
    cropPct,
    cropMode,
    interpolation: 'bilinear',
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  });

  it("follows torchvision's Resize(int) and CenterCrop for 'center'", () => {
    // shorter side 300 -> floor(224 / 0.875) = 256, longer floor(256 * 451 / 300) = 384
    const g = evalGeometry(451, 300, pre(224, 0.875, 'center'));
    expect(g.resize).toEqual([384, 256]);
    expect(g.pad).toEqual([0, 0, 0, 0]);
    // round((384 - 224) / 2) = 80, round((256 - 224) / 2) = 16
    expect(g.crop).toEqual([80, 16]);
  });

  it('pads where crop_pct > 1 makes the resized image smaller than the crop', () => {
    // 55 x 82 (portrait), crop 64: pad 9 = 4 + 5 across, none down; then crop row round(9) = 9
    const g = evalGeometry(300, 451, pre(64, 1.15, 'center'));
    expect(g.resize).toEqual([55, 82]);
    expect(g.pad).toEqual([4, 0, 5, 0]);
    expect(g.crop).toEqual([0, 9]);
  });

  it("'border' fits the longer side and fills with the mean colour", () => {
    const g = evalGeometry(640, 427, { ...pre(96, 1, 'border'), mean: [0.485, 0.456, 0.406] });
    expect(g.resize).toEqual([96, 64]);
    expect(g.pad).toEqual([0, 16, 0, 16]);
    expect(g.fill).toEqual([124, 116, 104]);
  });
});

describe('PIL resampling', () => {
  it('keeps a constant image constant and is the identity at the same size', () => {
    const w = 37;
    const h = 23;
    const flat = new Uint8Array(w * h * 3).fill(200);
    for (const filter of ['bilinear', 'bicubic'] as const) {
      for (const [ow, oh] of [[11, 7], [80, 50], [37, 9]] as const) {
        expect(resizeRgb(flat, w, h, ow, oh, filter).every((v) => v === 200)).toBe(true);
      }
      const noise = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7919) % 256);
      expect(resizeRgb(noise, w, h, w, h, filter)).toEqual(noise);
    }
  });
});
