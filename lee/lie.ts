import { Tensor, tidy } from '../engine/tensor.js';
import { dual, type Dual } from '../engine/dual.js';
import * as ops from '../engine/ops/index.js';
import type { Interp } from '../engine/ops/sample.js';
import { identityGrid, tangentBasis, velocityTensor, type Generator, type SpatialGenerator } from './transforms.js';

/** A classifier: images [B, 3, H, W] (already normalised) to logits [B, classes]. */
export interface Classifier {
  forward(x: Dual): Dual;
}

/** G x for each generator, stacked as tangents [K, B, C, H, W] in `gens` order: spatial
 * generators are the grid tangent of the identity resampling (exact at t = 0); saturate
 * (x -> (1 + t) x on the normalised tensor) has tangent x. */
export function imageTangents(x: Tensor, gens: readonly Generator[], interp: Interp = 'bilinear'): Tensor {
  if (x.rank !== 4) throw new Error(`images must be [B, C, H, W], got [${x.shape.join(', ')}]`);
  return tidy(() => {
    const [b, c, h, w] = x.shape as [number, number, number, number];
    const spatial = gens.filter((g): g is SpatialGenerator => g !== 'saturate');
    let moved: Tensor | null = null;
    if (spatial.length) {
      const grid = Tensor.fromData(identityGrid(h, w), [1, h, w, 2]);
      moved = ops.gridSample(x, dual(grid, velocityTensor(spatial, h, w)), interp).tangents!;
    }
    const parts = gens.map((g) => {
      if (g === 'saturate') return x.reshape([1, b, c, h, w]);
      const k = spatial.indexOf(g);
      return ops.slice(moved!, [k], [k + 1]).primal;
    });
    return parts.length === 1 ? parts[0]!.reshape([1, b, c, h, w]) : ops.concat(parts, 0).primal;
  });
}

export interface LieResult {
  logits: Tensor;
  probs: Tensor;
  /** per generator, d/dt softmax(f(T_t x)) at t = 0: [B, classes] */
  lie: Map<Generator, Tensor>;
}

/** All requested generators' Lie derivatives of the softmax output in ONE forward-mode
 * pass. L_G is linear in G, so only a basis of the requested generators' span goes
 * through the network (seven tangents for all ten) and the rest are combined from it
 * at the output (`tangentBasis`). The caller owns (disposes) the returned tensors. */
export function lieDerivatives(model: Classifier, images: Tensor, opts: { transforms: readonly Generator[]; interp?: Interp }): LieResult {
  const { basis, combos } = tangentBasis(opts.transforms);
  return tidy(() => {
    const t = imageTangents(images, basis, opts.interp);
    const logits = model.forward(dual(images, t));
    const probs = ops.softmax(logits, -1);
    const rows = probs.primal.shape;
    const slot = (k: number) => ops.slice(probs.tangents!, [k], [k + 1]).primal.reshape(rows);
    const lie = new Map<Generator, Tensor>();
    for (const g of opts.transforms) {
      const terms = combos.get(g)!.map(([k, c]) => (c === 1 ? slot(k) : ops.scale(slot(k), c).primal));
      lie.set(g, terms.reduce((a, b) => ops.add(a, b).primal));
    }
    return { logits: logits.primal, probs: probs.primal, lie };
  });
}

/** The paper's per-image summaries of one Lie derivative [B, classes]: mean |L p_k| and
 * ||L p||^2 / classes (its Eq. 4). */
export function summarise(lie: Float32Array, batch: number, classes: number): { meanAbs: number[]; meanSq: number[] } {
  const meanAbs: number[] = [];
  const meanSq: number[] = [];
  for (let b = 0; b < batch; b++) {
    let a = 0;
    let s = 0;
    for (let c = 0; c < classes; c++) {
      const v = lie[b * classes + c]!;
      a += Math.abs(v);
      s += v * v;
    }
    meanAbs.push(a / classes);
    meanSq.push(s / classes);
  }
  return { meanAbs, meanSq };
}
