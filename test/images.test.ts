import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { listImages, loadImage } from '../cli/images.js';
import { modelSpec } from '../models/registry.js';
import { LeeError } from '../engine/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'lee-images-'));

async function solid(name: string, w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg') {
  const path = join(dir, name);
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (format === 'png' ? img.png() : img.jpeg({ quality: 100 })).toFile(path);
  return path;
}

describe("images with timm's eval preprocessing", () => {
  const pre = modelSpec('resnet50').preprocess;

  it('decodes PNG and JPEG to [3, 224, 224], normalised with the model mean and std', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const rgb: [number, number, number] = [200, 100, 50];
      const x = await loadImage(await solid(`solid.${format}`, 300, 200, rgb, format), pre);
      expect(x.length).toBe(3 * 224 * 224);
      for (let c = 0; c < 3; c++) {
        const want = (rgb[c]! / 255 - pre.mean[c]!) / pre.std[c]!;
        const plane = x.subarray(c * 224 * 224, (c + 1) * 224 * 224);
        // JPEG may move a flat colour by a level or two
        const tol = format === 'png' ? 1e-5 : 2.5 / 255 / pre.std[c]!;
        for (const v of [plane[0]!, plane[224 * 112 + 112]!, plane[plane.length - 1]!]) expect(Math.abs(v - want)).toBeLessThan(tol);
      }
    }
  });

  it('resizes the shorter side to size / crop_pct and crops the centre', async () => {
    // left half red, right half blue, 480 x 240: shorter side -> floor(224 / 0.95) = 235,
    // width 470, centre crop keeps columns 123..346: the colour edge lands at column 112
    const w = 480;
    const h = 240;
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) px.set(j < w / 2 ? [255, 0, 0] : [0, 0, 255], (i * w + j) * 3);
    const path = join(dir, 'halves.png');
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path);
    const x = await loadImage(path, pre);
    const red = (j: number) => x[112 * 224 + j]!;
    expect(red(100)).toBeGreaterThan(1);
    expect(red(124)).toBeLessThan(-1);
    const edge = [...Array(224).keys()].find((j) => red(j) < 0)!;
    expect(Math.abs(edge - 112)).toBeLessThanOrEqual(1);
  });

  it('lists folders sorted and rejects what is not there', async () => {
    await solid('b.png', 8, 8, [0, 0, 0], 'png');
    await solid('a.jpeg', 8, 8, [0, 0, 0], 'jpeg');
    const files = await listImages([dir]);
    expect(files.map((f) => f.path.slice(dir.length + 1))).toEqual(['a.jpeg', 'b.png', 'halves.png', 'solid.jpeg', 'solid.png']);
    await expect(listImages([join(dir, 'nope')])).rejects.toThrow(LeeError);
  });
});
