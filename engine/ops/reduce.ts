import { runtime } from '../runtime.js';
import { Tensor, stridesOf, type Shape } from '../tensor.js';
import type { Dual, Operand } from '../dual.js';
import { primalOf } from '../dual.js';
import { bind } from '../bind.js';
import { linearLifted, type PrimitiveTable } from '../primitives.js';
import { UniformWriter, gridFor } from '../../shaders/common.js';
import { reduceKernel, softmaxKernel, type ReduceOp } from '../../shaders/reduce.js';

/** Reduced axes are non-negative, sorted and unique (the wrappers normalise them). */
export interface ReduceAxes {
  axes: number[];
  keepDims: boolean;
  /** set on the tangents' call: axis 0 is the K directions, which must not change how a
   * row is split over threads (so one direction sums in the same order as K of them) */
  lifted?: boolean;
}

export interface ReduceParams {
  reduceSum: ReduceAxes;
  reduceMean: ReduceAxes;
  reduceMax: ReduceAxes;
  softmax: { axis: number };
  logSoftmax: { axis: number };
}

/** How to split `rows` rows of length `r`: `tpr` threads per row, `wg` threads per
 * workgroup. Rows are split (halving each thread's share, down to `minShare`) only while
 * the whole reduction has fewer than `target` threads: a GPU needs thousands of threads
 * busy, a CPU adapter about one workgroup's worth, as barriers cost it dearly (CPU
 * drivers run a workgroup on one core and a shader with barriers there runs each
 * invocation as a coroutine: on SwiftShader a [591, 197] row sum took 5 ms with one
 * thread per row and 48 ms split over 8). */
export function rowSplit(rows: number, r: number, cpu = runtime().profile.software): { tpr: number; wg: number } {
  const [target, minShare] = cpu ? [256, 64] : [16384, 8];
  let tpr = 1;
  while (tpr < 256 && rows * tpr * 2 <= target && tpr * 2 * minShare <= r) tpr *= 2;
  let wg = 32;
  while (wg < 256 && wg < rows * tpr) wg *= 2;
  return { tpr, wg: Math.max(wg, tpr) };
}

/** Axes as sorted non-negative indices; `undefined` means every axis. */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new Error(`${op}: axis ${a} is out of range for a tensor of rank ${rank}`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new Error(`${op}: axes [${list.join(', ')}] repeat an axis`);
  return out.sort((a, b) => a - b);
}

interface Group {
  size: number;
  stride: number;
}

/** The input as two strided views (kept dims, reduced dims). Size-1 dims are dropped and
 * neighbours of the same kind merged, so a contiguous reduction is [outer, R, inner]. */
export function reducePlan(shape: Shape, { axes, keepDims }: ReduceAxes) {
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= shape.length) throw new Error(`reduce: axis ${a} out of range for rank ${shape.length}`);
  }
  const strides = stridesOf(shape);
  const kept: Group[] = [];
  const red: Group[] = [];
  let lastRed: boolean | null = null;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const isRed = axes.includes(i);
    const groups = isRed ? red : kept;
    if (lastRed === isRed) {
      const g = groups[groups.length - 1]!;
      g.size *= d;
      g.stride = strides[i]!;
    } else {
      groups.push({ size: d, stride: strides[i]! });
      lastRed = isRed;
    }
  }
  const outShape = shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
  const nOut = kept.reduce((a, g) => a * g.size, 1);
  const r = red.reduce((a, g) => a * g.size, 1);
  return { kept, red, outShape, nOut, r };
}

function reduceDual(op: ReduceOp, p: ReduceAxes, x: Tensor, tx: Tensor | null): Dual {
  const plan = reducePlan(x.shape, p);
  if (op === 'max' && plan.r === 0) throw new Error(`max: cannot reduce over an empty axis of [${x.shape.join(', ')}]`);
  const k = tx ? tx.shape[0]! : 0;
  const y = Tensor.empty(plan.outShape);
  const ty = tx ? Tensor.empty([k, ...plan.outShape]) : null;
  const { tpr, wg } = rowSplit(p.lifted ? plan.nOut / (x.shape[0] || 1) : plan.nOut, plan.r);
  const general = plan.red.length > 1 || plan.kept.length > 2;
  // the [outer, inner] kept groups of the simple view (unit groups where absent)
  const one: Group = { size: 1, stride: 0 };
  const [outer, inner] = plan.kept.length === 2 ? [plan.kept[0]!, plan.kept[1]!] : [one, plan.kept[0] ?? one];
  runtime().dispatch({
    key: `reduce:${op}:${general}:${tpr}:${wg}:${!!tx}`,
    source: () => reduceKernel(op, general, tpr, wg, !!tx),
    inputs: tx ? [x.buffer, tx.buffer] : [x.buffer],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter()
      .u32(plan.nOut, plan.r, k, x.size, plan.kept.length, plan.red.length, inner.size, outer.stride)
      .u32(inner.stride, plan.red[0]?.stride ?? 0, 0, 0)
      .array(plan.kept.map((g) => g.size))
      .array(plan.kept.map((g) => g.stride))
      .array(plan.red.map((g) => g.size))
      .array(plan.red.map((g) => g.stride))
      .finish(),
    workgroups: gridFor(Math.ceil((plan.nOut * tpr) / wg)),
  });
  return { primal: y, tangents: ty };
}

function softmaxDual(log: boolean, axis: number, x: Tensor, tx: Tensor | null): Dual {
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.rank) throw new Error(`softmax: axis ${axis} out of range for rank ${x.rank}`);
  const r = x.shape[axis]!;
  const inner = x.shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const rows = r === 0 ? 0 : x.size / r;
  const k = tx ? tx.shape[0]! : 0;
  const { tpr, wg } = rowSplit(rows, r);
  const y = Tensor.empty(x.shape);
  const ty = tx ? Tensor.empty(tx.shape) : null;
  runtime().dispatch({
    key: `softmax:${log}:${tpr}:${wg}:${!!tx}`,
    source: () => softmaxKernel(log, tpr, wg, !!tx),
    inputs: tx ? [x.buffer, tx.buffer] : [x.buffer],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter().u32(rows, r, inner, k, x.size, 0, 0, 0).finish(),
    workgroups: gridFor(Math.ceil((rows * tpr) / wg)),
  });
  return { primal: y, tangents: ty };
}

/** The tangents' leading K axis joins the kept dims. */
const liftAxes = (p: ReduceAxes): ReduceAxes => ({ axes: p.axes.map((a) => a + 1), keepDims: p.keepDims, lifted: true });

export const reducePrims: PrimitiveTable<ReduceParams> = {
  // d sum(x) = sum(dx)
  reduceSum: linearLifted('sum', (p, [x]) => reduceDual('sum', p, x!, null).primal, liftAxes),
  // d mean(x) = mean(dx)
  reduceMean: linearLifted('mean', (p, [x]) => reduceDual('mean', p, x!, null).primal, liftAxes),
  reduceMax: {
    impl: (p, [x]) => reduceDual('max', p, x!, null).primal,
    // d max(x) = dx[argmax x] (first maximal element on ties), fused with the value
    jvp: (p, [x], [tx]) => reduceDual('max', p, x!, tx!),
  },
  softmax: {
    impl: (p, [x]) => softmaxDual(false, p.axis, x!, null).primal,
    // d softmax(x) = y (dx - sum(y dx)), all K tangents in the forward kernel
    jvp: (p, [x], [tx]) => softmaxDual(false, p.axis, x!, tx!),
  },
  logSoftmax: {
    impl: (p, [x]) => softmaxDual(true, p.axis, x!, null).primal,
    // d log softmax(x) = dx - sum(softmax(x) dx)
    jvp: (p, [x], [tx]) => softmaxDual(true, p.axis, x!, tx!),
  },
};

type Axes = number | readonly number[];

/** Sum over `axes` (negative counts from the end; omitted: every axis). */
export function sum(x: Operand, axes?: Axes, keepDims = false): Dual {
  return bind('reduceSum', { axes: normalizeAxes(axes, primalOf(x).rank, 'sum'), keepDims }, [x]);
}

/** Mean over `axes` (negative counts from the end; omitted: every axis). */
export function mean(x: Operand, axes?: Axes, keepDims = false): Dual {
  return bind('reduceMean', { axes: normalizeAxes(axes, primalOf(x).rank, 'mean'), keepDims }, [x]);
}

/** Maximum over `axes`; NaN propagates. Its tangent is the tangent at the first
 * maximal element in row-major order (PyTorch's argmax on ties). */
export function max(x: Operand, axes?: Axes, keepDims = false): Dual {
  return bind('reduceMax', { axes: normalizeAxes(axes, primalOf(x).rank, 'max'), keepDims }, [x]);
}

/** softmax along `axis` (default: the last). */
export function softmax(x: Operand, axis = -1): Dual {
  return bind('softmax', { axis: normalizeAxes(axis, primalOf(x).rank, 'softmax')[0]! }, [x]);
}

/** log-softmax along `axis` (default: the last). */
export function logSoftmax(x: Operand, axis = -1): Dual {
  return bind('logSoftmax', { axis: normalizeAxes(axis, primalOf(x).rank, 'logSoftmax')[0]! }, [x]);
}
