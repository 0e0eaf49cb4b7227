import { readdir, stat } from 'node:fs/promises';
import { extname, join, basename } from 'node:path';
import { LeeError } from '../engine/errors.js';
import type { Preprocess } from '../models/spec.js';
import { preprocessRgb } from '../lee/preprocess.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** An image to run: its path, the name it is reported under, and the ImageFolder
 * sub-folder it sits in (its class), if it came from one. */
export interface ImageEntry {
  path: string;
  name: string;
  folder?: string;
}

const isImage = (n: string): boolean => IMAGE_EXTENSIONS.has(extname(n).toLowerCase());

/** Expand files and folders (sorted) into images. A folder holding images gives those;
 * a folder holding only sub-folders of images is an ImageFolder tree (one sub-folder per
 * class, as torchvision reads it), and each image is named `class/file`. */
export async function listImages(paths: readonly string[]): Promise<ImageEntry[]> {
  const out: ImageEntry[] = [];
  for (const p of paths) {
    let s;
    try {
      s = await stat(p);
    } catch {
      throw new LeeError(`cannot read ${p}: no such file or folder`);
    }
    if (!s.isDirectory()) {
      out.push({ path: p, name: basename(p) });
      continue;
    }
    const entries = (await readdir(p, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const files = entries.filter((e) => !e.isDirectory() && isImage(e.name));
    if (files.length) {
      out.push(...files.map((e) => ({ path: join(p, e.name), name: e.name })));
      continue;
    }
    let found = 0;
    for (const d of entries.filter((e) => e.isDirectory())) {
      const inner = (await readdir(join(p, d.name))).filter(isImage).sort();
      out.push(...inner.map((n) => ({ path: join(p, d.name, n), name: `${d.name}/${n}`, folder: d.name })));
      found += inner.length;
    }
    if (found === 0) throw new LeeError(`no PNG or JPEG images in folder ${p} (nor in an ImageFolder tree of sub-folders under it)`);
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

/** An image decoded as PIL's Image.open(...).convert('RGB') gives it to timm:
 * interleaved 8-bit RGB, no EXIF rotation, the embedded ICC profile ignored (so results
 * match PyTorch's pipeline). */
export async function decodeRgb(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const sharp = (await import('sharp')).default;
  try {
    const { data, info } = await sharp(path, { failOn: 'error', ignoreIcc: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    throw new LeeError(`cannot decode image ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** timm's eval transform (lee/preprocess.ts): resize as PIL does, pad, centre crop,
 * normalise. Returns [3, size, size]. */
export async function loadImage(path: string, pre: Preprocess): Promise<Float32Array> {
  const { data, width, height } = await decodeRgb(path);
  return preprocessRgb(data, width, height, pre);
}
