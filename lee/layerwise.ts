import { Tensor, tidy, dispose } from '../engine/tensor.js';
import { dual, type Dual } from '../engine/dual.js';
import * as ops from '../engine/ops/index.js';
import { runtime } from '../engine/runtime.js';
import type { Interp } from '../engine/ops/sample.js';
import { withLayerHook, type LayerCall, type LayerHook } from '../models/hooks.js';
import type { Module } from '../models/module.js';
import { imageTangents } from './lie.js';
import { layoutOf, mapTangents, type MapLayout } from './featuremaps.js';
import type { Generator } from './transforms.js';
import { forEachBatch, joinArrays, type ImageSource } from './batches.js';

// Exact layerwise attribution (SPEC 5.3). For F = f_N o ... o f_1 the chain rule
// telescopes: L F(x) = sum_i J_{>i} L f_i(h_{i-1}), with each layer's own Lie derivative
// L f_i(h) = J_{f_i}(h)(G_in h) - G_out f_i(h). Every contribution c_i = J_{>i} L f_i is
// one tangent direction of a forward pass: slot i is set to L f_i at layer i's output and
// carried to the softmax by the rest of the network. Slots are numbered in call order and
// a stack carries only the slots started so far (a shorter stack is zero in the rest, see
// `tangentCount`), so a slot costs the network after its layer, not the whole of it, and
// a pass takes as many layers as its stacks' memory allows: the run costs about
// sum_i (work after layer i) + one forward pass per pass.

/** One call of a layer, in network (call) order. */
export interface Layer {
  /** timm's dotted name (`layer1.0.conv2`, `blocks.3.attn`, `pos_embed`, `name#1`) */
  name: string;
  /** timm's class name, or the operation of a functional layer */
  type: string;
  order: number;
  inShape: number[];
  outShape: number[];
  input: MapLayout;
  output: MapLayout;
  /** L f_i = 0 by construction, so no tangent is spent on it: an identity between equal
   * layouts, a layer whose input and output are both not image-like (G = 0), or under a
   * spatial generator a layer that is one affine map per position (`commutes`). */
  zero: boolean;
}

export interface LayerwiseOptions {
  transform: Generator;
  interp?: Interp;
  /** at most this many layers (tangent directions) per forward pass; by default as many
   * as keep every tangent stack within `stackBytes` */
  chunk?: number;
  /** the largest tangent stack a pass may carry, in bytes; default `defaultStackBytes()` */
  stackBytes?: number;
  /** after each forward pass: passes done, passes in all (known after the first) */
  onPass?: (done: number, total: number) => void;
  /** also compute the layers that commute with the generator (zero by construction),
   * to check that claim numerically; default false */
  computeAll?: boolean;
  /** stops the run between forward passes (it then rejects with the signal's reason) */
  signal?: AbortSignal;
}

/** A batch's attribution, on the host. */
export interface LayerwiseResult {
  layers: Layer[];
  batch: number;
  classes: number;
  logits: Float32Array;
  probs: Float32Array;
  /** end-to-end L p = J_p(x)(G x), [B, classes] */
  lie: Float32Array;
  /** c_i [B, classes] per layer, in `layers` order (zeros for `zero` layers) */
  contributions: Float32Array[];
  /** per image ||sum_i c_i - L p|| / ||L p|| (the absolute norm where L p = 0) */
  residual: number[];
}

/** The stack budget: a quarter of the largest storage binding, at most 256 MiB (a pass
 * holds a few stacks of this size at once: the residual stream, a branch, a kernel's
 * output). */
export function defaultStackBytes(): number {
  return Math.min(runtime().device.limits.maxStorageBufferBindingSize / 4, 256 * 2 ** 20);
}

const sameLayout = (a: MapLayout, b: MapLayout) => JSON.stringify(a) === JSON.stringify(b);

const numel = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** Split the active layers (call order) into passes: each pass takes the next layers
 * while the widest stack it implies, max over later layer outputs t of
 * (slots started by t) x |h_t| x 4 bytes, stays within `stackBytes` (one layer at least),
 * and at most `chunk` of them. */
export function planPasses(layers: readonly Layer[], active: readonly Layer[], stackBytes: number, chunk = Infinity): Layer[][] {
  const sizes = layers.map((l) => numel(l.outShape) * 4);
  const passes: Layer[][] = [];
  let i = 0;
  while (i < active.length) {
    const pass = [active[i]!];
    // peak[t]: the bytes of the stack at layer t's output, with the layers taken so far
    const peak = sizes.map((b, t) => (t >= active[i]!.order ? b : 0));
    let j = i + 1;
    for (; j < active.length && pass.length < chunk; j++) {
      const start = active[j]!.order;
      let widest = 0;
      for (let t = start; t < layers.length; t++) widest = Math.max(widest, peak[t]! + sizes[t]!);
      if (widest > stackBytes) break;
      pass.push(active[j]!);
      for (let t = start; t < layers.length; t++) peak[t]! += sizes[t]!;
    }
    passes.push(pass);
    i = j;
  }
  return passes;
}

/** The stack `t` [k, ...shape] (null: no slots) with slot `s`, zero in `t`, set to `v`
 * ([1, ...shape]; null: zero): [max(k, s + 1), ...shape]. */
function withSlot(t: Tensor | null, shape: readonly number[], s: number, v: Tensor | null): Tensor {
  const k = t ? t.shape[0]! : 0;
  const rows = (n: number) => [n, ...shape];
  const part = (a: number, b: number) => (t && b > a ? ops.slice(t, [a], [b]).primal : null);
  const head = Math.min(s, k);
  const tail = Math.max(k - s - 1, 0);
  const lead = head === k ? t : part(0, head);
  return ops.concatOrZeros([lead, null, v, part(s + 1, k)], [rows(head), rows(s - head), rows(1), rows(tail)], 0);
}

/** A spatial G acts on every channel of a map alike, and G(constant) = 0, so it
 * commutes with a layer that is one affine map of the channel vector at every position
 * (eval BatchNorm, 1x1 stride-1 convolution, a per-token or channels-last Linear):
 * L f = J (G h) - G (A h + b) = A G h - A G h = 0. Not so for saturate (G h = h meets
 * the bias), nor where the map's feature axis is not the channel axis. */
function commutes(call: LayerCall, gen: Generator, input: MapLayout, output: MapLayout): boolean {
  if (gen === 'saturate' || !sameLayout(input, output)) return false;
  if (call.affineFeatureAxis === 1) return input.kind === 'bchw';
  if (call.affineFeatureAxis === -1) return input.kind === 'bhwc' || input.kind === 'tokens';
  return false;
}

/** The end-to-end pass: L p for one generator, and every layer call on the way. */
function recordPass(model: Module, images: Tensor, gen: Generator, interp: Interp, computeAll: boolean): { layers: Layer[]; logits: Tensor; probs: Tensor; lie: Tensor } {
  const layers: Layer[] = [];
  const record: LayerHook = (call, fn, x) => {
    const y = fn(x);
    const input = layoutOf(x.primal.shape, call.layouts?.input);
    const output = layoutOf(y.primal.shape, call.layouts?.output);
    const identity = y.primal === x.primal && sameLayout(input, output);
    const zero = identity || (!computeAll && commutes(call, gen, input, output)) || (input.kind === 'none' && output.kind === 'none');
    layers.push({ name: call.name, type: call.type, order: layers.length, inShape: [...x.primal.shape], outShape: [...y.primal.shape], input, output, zero });
    return y;
  };
  return tidy(() => {
    const x = dual(images, imageTangents(images, [gen], interp));
    const logits = withLayerHook(model, record, () => model.forward(x));
    const probs = ops.softmax(logits, -1);
    const [b, c] = probs.primal.shape as [number, number];
    return { layers, logits: logits.primal, probs: probs.primal, lie: probs.tangents!.reshape([b, c]) };
  });
}

/** One forward pass carrying the contributions of the layers in `chunk` (none of them
 * zero by construction): tangents of the softmax [K, B, classes], slot k for chunk[k]. */
function contributionPass(model: Module, images: Tensor, chunk: readonly Layer[], gen: Generator, interp: Interp): Tensor {
  const slot = new Map(chunk.map((l, i) => [l.name, i]));
  const reached = new Set<string>();
  const inject: LayerHook = (call, fn, x) => {
    const s = slot.get(call.name);
    if (s === undefined) return fn(x);
    reached.add(call.name);
    const layer = chunk[s]!;
    // slot s is zero up to here: it enters as G_in h beside the carried slots, so one call
    // of the layer gives them and J G_in h, and G_out f(h) is then taken from slot s
    const gIn = mapTangents(x.primal, [gen], layer.input, interp);
    const stack = gIn ? withSlot(x.tangents, x.primal.shape, s, gIn) : null;
    const y = fn(stack ? dual(x.primal, stack) : x);
    const gOut = mapTangents(y.primal, [gen], layer.output, interp);
    if (!stack) return dual(y.primal, withSlot(y.tangents, y.primal.shape, s, gOut ? ops.neg(gOut).primal : null));
    if (!gOut) return y;
    if (!y.tangents || y.tangents.shape[0]! <= s) throw new Error(`layerwise: ${call.name} dropped the tangent it was given`);
    // y's stack grew from ours (made above, held by nothing else), so its slot s can be
    // set in place rather than the whole stack copied around it
    const own = ops.slice(y.tangents!, [s], [s + 1]).primal;
    ops.overwriteRows(y.tangents!, s, ops.sub(own, gOut).primal);
    return y;
  };
  return tidy(() => {
    // only this pass's layers need their own calls: the rest may run folded
    const logits = withLayerHook(model, inject, () => model.forward(dual(images, null)), chunk.map((l) => l.name));
    const probs = ops.softmax(logits, -1);
    const missing = chunk.filter((l) => !reached.has(l.name)).map((l) => l.name);
    if (missing.length) throw new Error(`layerwise: layers not called in this pass: ${missing.join(', ')}`);
    if (!probs.tangents) throw new Error('layerwise: the injected tangents did not reach the output');
    return probs.tangents;
  });
}

function norm(v: Float32Array | Float64Array, o: number, n: number): number {
  let s = 0;
  for (let i = o; i < o + n; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** Every layer's contribution to the Lie derivative of the softmax output, for one
 * batch of images [B, 3, H, W] and one generator, with the additivity residual. */
export async function layerwise(model: Module, images: Tensor, opts: LayerwiseOptions): Promise<LayerwiseResult> {
  const interp = opts.interp ?? 'bilinear';
  const chunk = opts.chunk ?? Infinity;
  if (chunk !== Infinity && (!Number.isInteger(chunk) || chunk < 1)) throw new Error(`layerwise: chunk must be a positive integer, got ${chunk}`);
  const rec = recordPass(model, images, opts.transform, interp, opts.computeAll ?? false);
  const [batch, classes] = rec.probs.shape as [number, number];
  const take = async (t: Tensor) => {
    try {
      return await t.read();
    } finally {
      t.dispose();
    }
  };
  let logits: Float32Array, probs: Float32Array, lie: Float32Array;
  try {
    [logits, probs, lie] = [await rec.logits.read(), await rec.probs.read(), await rec.lie.read()];
  } finally {
    dispose([rec.logits, rec.probs, rec.lie]);
  }
  const active = rec.layers.filter((l) => !l.zero);
  const plan = planPasses(rec.layers, active, opts.stackBytes ?? defaultStackBytes(), chunk);
  opts.onPass?.(1, plan.length + 1);

  const per = batch * classes;
  const contributions = rec.layers.map(() => new Float32Array(per));
  for (const [p, pass] of plan.entries()) {
    opts.signal?.throwIfAborted();
    const out = await take(contributionPass(model, images, pass, opts.transform, interp));
    pass.forEach((l, k) => {
      // a slot whose layer's output never reaches the softmax stays zero
      if ((k + 1) * per <= out.length) contributions[l.order]!.set(out.subarray(k * per, (k + 1) * per));
    });
    opts.onPass?.(p + 2, plan.length + 1);
  }

  const residual: number[] = [];
  for (let b = 0; b < batch; b++) {
    const diff = new Float64Array(classes);
    for (const c of contributions) for (let j = 0; j < classes; j++) diff[j]! += c[b * classes + j]!;
    for (let j = 0; j < classes; j++) diff[j]! -= lie[b * classes + j]!;
    const ref = norm(lie, b * classes, classes);
    const err = norm(diff, 0, classes);
    residual.push(ref > 0 ? err / ref : err);
  }
  return { layers: rec.layers, batch, classes, logits, probs, lie, contributions, residual };
}

export interface LayerwiseRunOptions extends Omit<LayerwiseOptions, 'onPass'> {
  batch: number;
  /** forward passes done and in all (the total is known after the first pass) */
  onProgress?: (done: number, total: number) => void;
}

/** A whole image set's attribution; per-layer statistics are per image. */
export interface LayerwiseRun {
  layers: Layer[];
  images: string[];
  classes: number;
  logits: Float32Array;
  probs: Float32Array;
  lie: Float32Array;
  /** c_i [N, classes] per layer */
  contributions: Float32Array[];
  /** ||c_i||^2 per layer and image (the paper's quantity) */
  sqNorm: number[][];
  /** ||c_i|| / sum_j ||c_j|| per layer and image (0 where every c_j is 0) */
  share: number[][];
  residual: number[];
  passes: number;
  seconds: number;
}

/** `layerwise` over every image of `source`, a batch at a time. */
export async function runLayerwise(model: Module, source: ImageSource, opts: LayerwiseRunOptions): Promise<LayerwiseRun> {
  const t0 = globalThis.performance.now();
  const n = source.names.length;
  const batches = Math.ceil(n / opts.batch);
  const results: LayerwiseResult[] = [];
  let perBatch = 0;
  await forEachBatch(source, opts.batch, async (x, start) => {
    const i = start / opts.batch;
    const r = await layerwise(model, x, {
      ...opts,
      onPass: (done, total) => {
        perBatch = total;
        opts.onProgress?.(i * total + done, batches * total);
      },
    });
    const names = r.layers.map((l) => l.name).join();
    if (results.length && names !== results[0]!.layers.map((l) => l.name).join()) throw new Error('layerwise: the layers changed between batches');
    results.push(r);
  }, undefined, opts.signal);
  const first = results[0];
  if (!first) throw new Error('layerwise: the image source is empty');
  const layers = first.layers;
  const contributions = layers.map((_, i) => joinArrays(results.map((r) => r.contributions[i]!)));
  const classes = first.classes;
  const sqNorm = contributions.map((c) => Array.from({ length: n }, (_, b) => norm(c, b * classes, classes) ** 2));
  const share = sqNorm.map((sq) => sq.map(() => 0));
  for (let b = 0; b < n; b++) {
    const total = sqNorm.reduce((a, sq) => a + Math.sqrt(sq[b]!), 0);
    if (total > 0) sqNorm.forEach((sq, i) => (share[i]![b] = Math.sqrt(sq[b]!) / total));
  }
  return {
    layers,
    images: source.names,
    classes,
    logits: joinArrays(results.map((r) => r.logits)),
    probs: joinArrays(results.map((r) => r.probs)),
    lie: joinArrays(results.map((r) => r.lie)),
    contributions,
    sqNorm,
    share,
    residual: results.flatMap((r) => r.residual),
    passes: perBatch * batches,
    seconds: (globalThis.performance.now() - t0) / 1e3,
  };
}
