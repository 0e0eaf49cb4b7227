import { runtime } from '../runtime.js';
import { Tensor, numel, type Shape } from '../tensor.js';
import { primalOf, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import { linearInBatch, requireConstant, type PrimitiveDef, type PrimitiveTable } from '../primitives.js';
import { UniformWriter, grid1d, gridFor } from '../../shaders/common.js';
import {
  THREAD_WG,
  batchNormKernel,
  batchNormKey,
  rowNormKernel,
  rowNormKey,
  type RowNormFlags,
} from '../../shaders/norm.js';

export type LayerNormAxis = 'last' | 'channels';

export interface NormParams {
  layerNorm: { eps: number; axis: LayerNormAxis };
  groupNorm: { eps: number; groups: number };
  batchNorm: { eps: number };
}

/** Rows to normalise, as the kernel sees them: row r holds elements
 * (r / stride) * len * stride + r % stride + j * stride for j < len. */
interface RowLayout {
  rows: number;
  len: number;
  stride: number;
  /** group norm only: groups per sample and elements per channel */
  groups: number;
  per: number;
  grouped: boolean;
}

/** One thread per row unless the rows are long and too few to spread over the GPU.
 * On SwiftShader (software Vulkan) workgroup barriers are expensive: a thread
 * per row ran ViT's 197 x 768 rows about 1.6x faster than a workgroup per row, while 32
 * rows of 6272 (group norm) ran 2x slower and a single long row 10x slower. */
const SHORT_ROW = 32;
const MANY_ROWS = 128;

function perThread(l: RowLayout): boolean {
  return l.len <= SHORT_ROW || l.rows >= MANY_ROWS;
}

function layerNormLayout(shape: Shape, axis: LayerNormAxis): RowLayout {
  if (axis === 'last') {
    const len = shape[shape.length - 1]!;
    return { rows: numel(shape) / Math.max(len, 1), len, stride: 1, groups: 1, per: 1, grouped: false };
  }
  const inner = numel(shape.slice(2));
  return { rows: shape[0]! * inner, len: shape[1]!, stride: inner, groups: 1, per: 1, grouped: false };
}

function groupNormLayout(shape: Shape, groups: number): RowLayout {
  const inner = numel(shape.slice(2));
  const len = (shape[1]! / groups) * inner;
  return { rows: shape[0]! * groups, len, stride: 1, groups, per: inner, grouped: true };
}

/** Normalised rows and, for tangents tx [K, ...x.shape], their JVPs in the same dispatch. */
function rowNorm(l: RowLayout, eps: number, x: Tensor, w: Tensor | null, b: Tensor | null, tx: Tensor | null): Dual {
  const y = Tensor.empty(x.shape);
  const ty = tx ? Tensor.empty(tx.shape) : null;
  if (x.size === 0) return { primal: y, tangents: ty };
  const flags: RowNormFlags = { perThread: perThread(l), grouped: l.grouped, weight: !!w, bias: !!b, tangents: !!tx };
  runtime().dispatch({
    key: rowNormKey(flags),
    source: () => rowNormKernel(flags),
    inputs: [x, w, b, tx].filter((t): t is Tensor => t !== null).map((t) => t.buffer),
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter()
      .u32(l.rows, l.len, l.stride, l.groups, l.per, tx ? tx.shape[0]! : 0, x.size)
      .f32(eps)
      .finish(),
    workgroups: flags.perThread ? grid1d(l.rows, THREAD_WG) : gridFor(l.rows),
  });
  return { primal: y, tangents: ty };
}

/** A primitive normalising rows of its first operand with an optional affine [w, b]:
 * value and all K tangents come from one fused kernel. */
function rowNormPrim<P extends { eps: number }>(name: string, layout: (shape: Shape, p: P) => RowLayout): PrimitiveDef<P> {
  return {
    impl: (p, [x, w, b]) => rowNorm(layout(x!.shape, p), p.eps, x!, w ?? null, b ?? null, null).primal,
    // dy = w r (dx - mean(dx) - xhat mean(xhat dx)), xhat = (x - mu) r, r = (var + eps)^-1/2
    jvp: (p, [x, w, b], tangents) => {
      requireConstant(tangents, name);
      return rowNorm(layout(x!.shape, p), p.eps, x!, w ?? null, b ?? null, tangents[0]!);
    },
  };
}

function batchNormImpl(p: NormParams['batchNorm'], [x, m, v, w, b]: readonly (Tensor | null)[]): Tensor {
  const y = Tensor.empty(x!.shape);
  if (x!.size === 0) return y;
  const flags = { mean: !!m, weight: !!w, bias: !!b };
  runtime().dispatch({
    key: batchNormKey(flags),
    source: () => batchNormKernel(flags),
    inputs: [x, m, v, w, b].filter((t): t is Tensor => t !== null).map((t) => t.buffer),
    outputs: [y.buffer],
    uniform: new UniformWriter().u32(x!.size, x!.shape[1]!, numel(x!.shape.slice(2))).f32(p.eps).finish(),
    workgroups: grid1d(x!.size),
  });
  return y;
}

export const normPrims: PrimitiveTable<NormParams> = {
  layerNorm: rowNormPrim('layerNorm', (shape, p) => layerNormLayout(shape, p.axis)),
  groupNorm: rowNormPrim('groupNorm', (shape, p) => groupNormLayout(shape, p.groups)),
  // affine in x with constant statistics: d y = dx w / sqrt(var + eps), i.e. the same op
  // on the K*B folded tangents with the shift (running mean and bias) dropped
  batchNorm: linearInBatch('batchNorm', batchNormImpl, [1, 4]),
};

function checkPerChannel(op: string, what: string, t: Operand | null, c: number): void {
  if (t === null) return;
  const s = primalOf(t).shape;
  if (s.length !== 1 || s[0] !== c) throw new Error(`${op}: ${what} has shape [${s.join(', ')}], expected [${c}]`);
}

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a finite number >= 0, got ${eps}`);
}

export interface LayerNormOptions {
  /** default 1e-5 (PyTorch; timm's ViT uses 1e-6) */
  eps?: number;
  /** 'last': the last axis (nn.LayerNorm, channels-last); 'channels': axis 1 of
   * [B, C, ...] per position (timm's LayerNorm2d). Default 'last'. */
  axis?: LayerNormAxis;
}

/** Layer norm with biased variance, eps inside the square root; weight and bias [C]
 * (either may be null). */
export function layerNorm(x: Operand, weight: Operand | null, bias: Operand | null, options: LayerNormOptions = {}): Dual {
  const eps = options.eps ?? 1e-5;
  const axis = options.axis ?? 'last';
  const shape = primalOf(x).shape;
  checkEps('layerNorm', eps);
  if (axis !== 'last' && axis !== 'channels') throw new Error(`layerNorm: axis must be 'last' or 'channels', got ${String(axis)}`);
  if (axis === 'last' && shape.length < 1) throw new Error('layerNorm: input must have at least one axis');
  if (axis === 'channels' && shape.length < 2) {
    throw new Error(`layerNorm: axis 'channels' needs [B, C, ...], got [${shape.join(', ')}]`);
  }
  const c = axis === 'last' ? shape[shape.length - 1]! : shape[1]!;
  checkPerChannel('layerNorm', 'weight', weight, c);
  checkPerChannel('layerNorm', 'bias', bias, c);
  return bind('layerNorm', { eps, axis }, [x, weight, bias]);
}

/** Group norm on [B, C, ...]: statistics per (sample, group of C / groups channels)
 * over those channels and all positions; affine per channel (weight, bias [C] or null). */
export function groupNorm(x: Operand, groups: number, weight: Operand | null, bias: Operand | null, eps = 1e-5): Dual {
  const shape = primalOf(x).shape;
  checkEps('groupNorm', eps);
  if (shape.length < 2) throw new Error(`groupNorm: input must be [B, C, ...], got [${shape.join(', ')}]`);
  const c = shape[1]!;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  }
  checkPerChannel('groupNorm', 'weight', weight, c);
  checkPerChannel('groupNorm', 'bias', bias, c);
  return bind('groupNorm', { eps, groups }, [x, weight, bias]);
}

/** Batch norm in eval mode on [B, C] or [B, C, ...] with running statistics [C]:
 * y = (x - mean) / sqrt(var + eps) * weight + bias (weight, bias may be null). */
export function batchNorm(
  x: Operand,
  runningMean: Operand,
  runningVar: Operand,
  weight: Operand | null,
  bias: Operand | null,
  eps = 1e-5,
): Dual {
  const shape = primalOf(x).shape;
  checkEps('batchNorm', eps);
  if (shape.length < 2) throw new Error(`batchNorm: input must be [B, C] or [B, C, ...], got [${shape.join(', ')}]`);
  const c = shape[1]!;
  checkPerChannel('batchNorm', 'running mean', runningMean, c);
  checkPerChannel('batchNorm', 'running var', runningVar, c);
  checkPerChannel('batchNorm', 'weight', weight, c);
  checkPerChannel('batchNorm', 'bias', bias, c);
  return bind('batchNorm', { eps }, [x, runningMean, runningVar, weight, bias]);
}
