import { readdir, stat } from 'node:fs/promises';
import { extname, join, basename } from 'node:path';
import { LeeError } from '../engine/errors.js';
import type { Preprocess } from '../models/spec.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Expand files and folders (sorted, non-recursive) into image paths. */
export async function listImages(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let s;
    try {
      s = await stat(p);
    } catch {
      throw new LeeError(`cannot read ${p}: no such file or folder`);
    }
    if (s.isDirectory()) {
      const names = (await readdir(p)).filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort();
      if (names.length === 0) throw new LeeError(`no PNG or JPEG images in folder ${p}`);
      out.push(...names.map((n) => join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Fail now, before the GPU is opened, on a file that is not a decodable image
 * (its header is read; pixels are decoded batch by batch later). */
export async function checkImage(path: string): Promise<void> {
  const sharp = (await import('sharp')).default;
  try {
    const meta = await sharp(path, { failOn: 'error' }).metadata();
    if (!meta.width || !meta.height) throw new Error('no image size');
  } catch (e) {
    throw new LeeError(`cannot decode image ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Python's round(): halves to even, as torchvision's CenterCrop offsets use. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** timm's eval transform: resize the shorter side to floor(size / crop_pct) (bicubic or
 * bilinear), centre-crop size x size, scale to [0, 1], normalise. Returns [3, size, size]. */
export async function loadImage(path: string, pre: Preprocess): Promise<Float32Array> {
  const sharp = (await import('sharp')).default;
  const size = pre.inputSize[1];
  const scale = Math.floor(size / pre.cropPct);
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    const img = sharp(path, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb');
    const meta = await img.metadata();
    const w0 = meta.autoOrient?.width ?? meta.width;
    const h0 = meta.autoOrient?.height ?? meta.height;
    if (!w0 || !h0) throw new Error('no image size');
    const [w, h] = w0 <= h0 ? [scale, Math.floor((scale * h0) / w0)] : [Math.floor((scale * w0) / h0), scale];
    const left = pyRound((w - size) / 2);
    const top = pyRound((h - size) / 2);
    decoded = await img
      .resize(w, h, { kernel: pre.interpolation === 'bicubic' ? 'cubic' : 'linear', fit: 'fill' })
      .extract({ left: Math.max(left, 0), top: Math.max(top, 0), width: size, height: size })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new LeeError(`cannot decode image ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const { data, info } = decoded;
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < size * size; i++) {
      out[c * size * size + i] = (data[i * info.channels + c]! / 255 - pre.mean[c]!) / pre.std[c]!;
    }
  }
  return out;
}

export const imageName = (path: string): string => basename(path);
