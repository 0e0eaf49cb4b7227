import { keep, ops, tidy, type Tensor } from '../engine/index.js';
import { watched } from './hooks.js';
import type { Module } from './module.js';

/** Eval BatchNorm folded into the convolution before it: conv(x; W) then
 * (y - mean) gamma / sqrt(var + eps) + beta is conv(x; W s) + (b - mean) s + beta with
 * s = gamma / sqrt(var + eps) per output channel, exactly (up to float rounding). The
 * fused layer runs one convolution and no pass over its (1 + K)-batch output. Layer
 * hooks see timm's leaves, so under a hook that watches either layer both run as they are. */

let enabled = true;

/** Run `fn` with every model layer unfused (tests compare the two). */
export function withoutFolding<T>(fn: () => T): T {
  const before = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = before;
  }
}

/** Whether these layers may run fused into one kernel now (a conv and the BatchNorm it
 * folds, or a module holding both; an activation after them): no hook watches them (a
 * hook sees each of timm's leaves on its own) and fusion is not switched off. */
export function fusing(...layers: Module[]): boolean {
  return enabled && !layers.some(watched);
}

/** A fold's weight and bias, and the tensors they were made from. */
export interface Folded {
  from: readonly Tensor[];
  weight: Tensor;
  bias: Tensor;
}

/** Fold eval BatchNorm statistics (all [C]) into a conv weight [C, ...] and bias [C] or
 * null; the results belong to the caller (kept out of any open tidy). */
export function foldBatchNorm(
  weight: Tensor,
  bias: Tensor | null,
  bn: { mean: Tensor; variance: Tensor; gamma: Tensor; beta: Tensor; eps: number },
): { weight: Tensor; bias: Tensor } {
  return keep(tidy(() => fold(weight, bias, bn)));
}

function fold(weight: Tensor, bias: Tensor | null, bn: { mean: Tensor; variance: Tensor; gamma: Tensor; beta: Tensor; eps: number }) {
  const c = weight.shape[0]!;
  // s as the BatchNorm kernel forms it: gamma * inverseSqrt(var + eps)
  const s = ops.mul(bn.gamma, ops.rsqrt(ops.affine(bn.variance, 1, bn.eps))).primal;
  const sw = s.reshape([c, ...weight.shape.slice(1).map(() => 1)]);
  const folded = ops.mul(weight, sw).primal;
  const shift = bias ? ops.sub(bias, bn.mean).primal : ops.neg(bn.mean).primal;
  return { weight: folded, bias: ops.add(ops.mul(shift, s), bn.beta).primal };
}

/** A cached fold, recomputed when any source tensor changed (weights reloaded). */
export function cachedFold(cache: Folded | null, from: readonly Tensor[], make: () => { weight: Tensor; bias: Tensor }): Folded {
  if (cache && cache.from.length === from.length && cache.from.every((t, i) => t === from[i])) return cache;
  if (cache) {
    cache.weight.dispose();
    cache.bias.dispose();
  }
  return { from, ...make() };
}
