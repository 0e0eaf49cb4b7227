import type { Interp } from '../engine/ops/sample.js';
import { lieDerivatives, summarise, type Classifier } from './lie.js';
import type { Generator } from './transforms.js';
import { forEachBatch, joinArrays, type ImageSource } from './batches.js';

export type { ImageSource } from './batches.js';

export interface E2EOptions {
  transforms: readonly Generator[];
  interp: Interp;
  batch: number;
  onProgress?: (done: number, total: number) => void;
  /** stops the run between batches (it then rejects with the signal's reason) */
  signal?: AbortSignal;
}

export interface E2EImageResult {
  image: string;
  /** mean_k |L_G p_k| per generator (the paper's CSV) */
  meanAbs: Partial<Record<Generator, number>>;
  /** ||L_G p||^2 / classes per generator (its Eq. 4) */
  meanSq: Partial<Record<Generator, number>>;
}

export interface E2EResult {
  images: E2EImageResult[];
  classes: number;
  logits: Float32Array;
  probs: Float32Array;
  lie: Map<Generator, Float32Array>;
  seconds: number;
}

/** End-to-end Lie derivatives of every image, all generators in one pass per batch. */
export async function runE2E(model: Classifier, source: ImageSource, opts: E2EOptions): Promise<E2EResult> {
  const t0 = globalThis.performance.now();
  const logits: Float32Array[] = [];
  const probs: Float32Array[] = [];
  const lie = new Map<Generator, Float32Array[]>(opts.transforms.map((g) => [g, []]));
  const images: E2EImageResult[] = [];
  let classes = 0;
  await forEachBatch(
    source,
    opts.batch,
    async (x, start, end) => {
      const r = lieDerivatives(model, x, { transforms: opts.transforms, interp: opts.interp });
      try {
        classes = r.logits.shape[1]!;
        logits.push(await r.logits.read());
        probs.push(await r.probs.read());
        const batchRows: E2EImageResult[] = source.names.slice(start, end).map((image) => ({ image, meanAbs: {}, meanSq: {} }));
        for (const g of opts.transforms) {
          const v = await r.lie.get(g)!.read();
          lie.get(g)!.push(v);
          const s = summarise(v, end - start, classes);
          batchRows.forEach((row, b) => {
            row.meanAbs[g] = s.meanAbs[b]!;
            row.meanSq[g] = s.meanSq[b]!;
          });
        }
        images.push(...batchRows);
      } finally {
        r.logits.dispose();
        r.probs.dispose();
        for (const t of r.lie.values()) t.dispose();
      }
    },
    opts.onProgress,
    opts.signal,
  );
  return {
    images,
    classes,
    logits: joinArrays(logits),
    probs: joinArrays(probs),
    lie: new Map([...lie].map(([g, parts]) => [g, joinArrays(parts)])),
    seconds: (globalThis.performance.now() - t0) / 1e3,
  };
}
