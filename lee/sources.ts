import { LeeError } from '../engine/errors.js';
import type { HostTensor } from '../engine/safetensors.js';
import type { Preprocess } from '../models/spec.js';
import type { ImageSource } from './batches.js';
import { folderClass, type ClassInfo } from './labels.js';
import { preprocessRgb } from './preprocess.js';

// The image sets a run reads: image files (the CLI decodes them with sharp, the web page
// with the browser's decoder) or a tensor already preprocessed.

/** An image to run: the name reports give it and, for an image from an ImageFolder
 * tree, the sub-folder (its class) it sits in. */
export interface ImageEntry {
  name: string;
  folder?: string;
}

/** Decoded pixels: interleaved 8-bit RGB [height, width, 3], as PIL's convert('RGB'). */
export interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A run's images, with each one's class index where an ImageFolder tree gives it. */
export interface LabelledSource extends ImageSource {
  labels: (number | undefined)[];
}

/** Images decoded by `decode` and preprocessed with timm's eval transform a batch at a
 * time, ImageFolder sub-folders labelled through `classes` (and a labels list). */
export function labelledSource<E extends ImageEntry>(
  entries: readonly E[],
  decode: (entry: E) => Promise<Rgb>,
  pre: Preprocess,
  classes: ClassInfo,
  labels?: readonly string[],
): LabelledSource {
  const folderIndex = new Map<string, number>();
  for (const e of entries) if (e.folder !== undefined && !folderIndex.has(e.folder)) folderIndex.set(e.folder, folderClass(e.folder, classes, labels));
  const size = pre.inputSize[1];
  const per = 3 * size * size;
  return {
    names: entries.map((e) => e.name),
    labels: entries.map((e) => (e.folder === undefined ? undefined : folderIndex.get(e.folder))),
    size: [size, size],
    load: async (start, end) => {
      const out = new Float32Array((end - start) * per);
      for (let i = start; i < end; i++) {
        const { data, width, height } = await decode(entries[i]!);
        out.set(preprocessRgb(data, width, height, pre), (i - start) * per);
      }
      return out;
    },
  };
}

/** A safetensors file's tensor `images` [N, 3, H, W], already normalised (`--input`):
 * checked for shape and finite values; images are named `<source>#<i>`. */
export function preprocessedSource(tensors: Map<string, HostTensor>, source: string): LabelledSource {
  const t = tensors.get('images');
  if (!t) throw new LeeError(`${source} has no tensor named 'images' (found: ${[...tensors.keys()].join(', ') || 'none'})`);
  if (t.shape.length !== 4 || t.shape[1] !== 3 || t.shape[0]! < 1 || t.shape[2]! < 2 || t.shape[3]! < 2) {
    throw new LeeError(`'images' in ${source} must be [N, 3, H, W] with N >= 1 and H, W >= 2, got [${t.shape.join(', ')}]`);
  }
  const bad = t.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new LeeError(`'images' in ${source} contains ${t.data[bad]} (at flat index ${bad}); inputs must be finite`);
  const [n, , h, w] = t.shape as [number, number, number, number];
  const per = 3 * h * w;
  return {
    names: Array.from({ length: n }, (_, i) => `${source}#${i}`),
    labels: Array.from({ length: n }, () => undefined),
    size: [h, w],
    load: async (start, end) => t.data.subarray(start * per, end * per),
  };
}
