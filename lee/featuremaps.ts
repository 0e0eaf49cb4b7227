import { Tensor, tidy } from '../engine/tensor.js';
import type { Dual } from '../engine/dual.js';
import * as ops from '../engine/ops/index.js';
import type { Interp } from '../engine/ops/sample.js';
import { imageTangents } from './lie.js';
import type { Generator } from './transforms.js';
import type { LayoutHint } from '../models/module.js';

/** How a tensor is image-like (SPEC 5.4): channels-first maps, channels-last maps,
 * tokens [B, e + k^2, C] whose e prefix tokens (class / distillation) stay untouched, or
 * the same tokens on the last axis [B, C, e + k^2] (the Mixer's token MLP). */
export type MapLayout =
  | { kind: 'bchw' }
  | { kind: 'bhwc' }
  | { kind: 'tokens'; prefix: number }
  | { kind: 'tokens_last'; prefix: number }
  | { kind: 'none' };

/** e such that n = e + k^2 with k > 1 and e in {0, 1, 2} (smallest first), or -1. */
function tokenPrefix(n: number): number {
  for (const prefix of [0, 1, 2]) {
    const k = Math.round(Math.sqrt(n - prefix));
    if (k > 1 && k * k === n - prefix) return prefix;
  }
  return -1;
}

/** The SPEC 5.4 reading of a shape: (B,C,H,W) with H*W > 1; (B,N,C) with N = k^2 + e,
 * e in {0,1,2} (smallest e first). Channels-last maps must be named by the caller. */
export function mapLayout(shape: readonly number[]): MapLayout {
  if (shape.length === 4 && shape[2]! * shape[3]! > 1) return { kind: 'bchw' };
  if (shape.length === 3) {
    const prefix = tokenPrefix(shape[1]!);
    if (prefix >= 0) return { kind: 'tokens', prefix };
  }
  return { kind: 'none' };
}

/** The layout of a layer's input or output: the model's hint where it gives one
 * (`models/module.ts` LayoutHint), else read from the shape. A hinted layout the shape
 * cannot hold is an internal error. */
export function layoutOf(shape: readonly number[], hint?: LayoutHint): MapLayout {
  if (hint === undefined) return mapLayout(shape);
  if (hint === 'none') return { kind: 'none' };
  if (hint === 'bhwc') {
    if (shape.length !== 4) throw new Error(`a channels-last map must be [B, H, W, C], got [${shape.join(', ')}]`);
    return shape[1]! * shape[2]! > 1 ? { kind: 'bhwc' } : { kind: 'none' };
  }
  const prefix = shape.length === 3 ? tokenPrefix(shape[2]!) : -1;
  if (prefix < 0) throw new Error(`tokens on the last axis must be [B, C, e + k^2], got [${shape.join(', ')}]`);
  return { kind: 'tokens_last', prefix };
}

/** G_out y for each generator, as tangents [K, ...y.shape]: the transform of the map
 * in the same normalised coordinates as the input, at the map's own resolution;
 * saturate scales the map itself. Zero (null) for a map that is not image-like. */
export function mapTangents(y: Tensor, gens: readonly Generator[], layout: MapLayout, interp: Interp = 'bilinear'): Tensor | null {
  if (layout.kind === 'none') return null;
  return tidy(() => {
    const k = gens.length;
    if (layout.kind === 'bchw') return imageTangents(y, gens, interp);
    if (layout.kind === 'bhwc') {
      const t = imageTangents(ops.permute(y, [0, 3, 1, 2]).primal, gens, interp);
      return ops.permute(t, [0, 1, 3, 4, 2]).primal;
    }
    if (layout.kind === 'tokens_last') {
      const t = mapTangents(ops.transpose(y, 1, 2).primal, gens, { kind: 'tokens', prefix: layout.prefix }, interp)!;
      return ops.permute(t, [0, 1, 3, 2]).primal;
    }
    const [b, n, c] = y.shape as [number, number, number];
    const e = layout.prefix;
    const side = Math.round(Math.sqrt(n - e));
    const grid = ops.permute(ops.reshape(ops.slice(y, [0, e], [b, n]), [b, side, side, c]), [0, 3, 1, 2]).primal;
    const moved = ops.reshape(ops.permute(imageTangents(grid, gens, interp), [0, 1, 3, 4, 2]), [k, b, side * side, c]).primal;
    if (e === 0) return moved;
    return ops.concat([Tensor.fromData(new Float32Array(k * b * e * c), [k, b, e, c]), moved], 2).primal;
  });
}

/** The Lie derivative of a map whose output is itself image-like (SPEC 5.2):
 * L = J_f(x) (G_in x) - G_out f(x), for every generator in one forward-mode pass. The
 * input layout is BCHW; the output's is read from its shape unless given. */
export function mapLieDerivative(
  f: (x: Dual) => Dual,
  x: Tensor,
  opts: { transforms: readonly Generator[]; interp?: Interp; outputLayout?: MapLayout },
): { output: Tensor; lie: Tensor } {
  return tidy(() => {
    const y = f({ primal: x, tangents: imageTangents(x, opts.transforms, opts.interp) });
    const jvp = y.tangents ?? Tensor.fromData(new Float32Array(opts.transforms.length * y.primal.size), [opts.transforms.length, ...y.primal.shape]);
    const back = mapTangents(y.primal, opts.transforms, opts.outputLayout ?? mapLayout(y.primal.shape), opts.interp);
    return { output: y.primal, lie: back ? ops.sub(jvp, back).primal : jvp };
  });
}
