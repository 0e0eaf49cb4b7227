import { Tensor } from '../engine/tensor.js';
import { runtime } from '../engine/runtime.js';

/** Images to run, loaded a batch at a time so a large folder never sits on the GPU whole. */
export interface ImageSource {
  names: string[];
  /** [3, H, W] each */
  size: [number, number];
  load(start: number, end: number): Promise<Float32Array>;
}

/** The one image-batch loop of every run over an image set: each batch [b, 3, H, W]
 * lives on the GPU only while `fn` runs and is freed whatever `fn` does; GPU errors
 * surface after each batch; `onProgress` gets images done and in all. An aborted
 * `signal` stops the loop before its next batch (with the signal's reason). */
export async function forEachBatch(
  source: ImageSource,
  batch: number,
  fn: (images: Tensor, start: number, end: number) => Promise<void>,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  const n = source.names.length;
  const [h, w] = source.size;
  onProgress?.(0, n);
  for (let start = 0; start < n; start += batch) {
    signal?.throwIfAborted();
    const end = Math.min(n, start + batch);
    const data = await source.load(start, end);
    const x = Tensor.fromData(data, [end - start, 3, h, w]);
    try {
      await fn(x, start, end);
    } finally {
      x.dispose();
    }
    runtime().check();
    onProgress?.(end, n);
  }
}

/** The parts end to end, as one array (per-batch host results joined). */
export function joinArrays(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
