import { runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import type { Dual, Operand } from '../dual.js';
import { primalOf } from '../dual.js';
import { bind } from '../bind.js';
import { linearInBatch, type PrimitiveTable } from '../primitives.js';
import { UniformWriter, grid1d } from '../../shaders/common.js';
import { adaptiveAvgPoolKernel, avgPoolKernel, maxPoolKernel } from '../../shaders/pooling.js';
import { reducePrims } from './reduce.js';

type Pair = [number, number];

/** Resolved window geometry, (h, w) pairs. */
export interface PoolGeometry {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  ceilMode: boolean;
}

export interface PoolingParams {
  maxPool2d: PoolGeometry;
  avgPool2d: PoolGeometry & { countIncludePad: boolean };
  adaptiveAvgPool2d: { output: Pair };
}

export interface MaxPool2dOptions {
  kernel: number | Pair;
  /** default: the kernel size */
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  kernel: number | Pair;
  /** default: the kernel size */
  stride?: number | Pair;
  padding?: number | Pair;
  ceilMode?: boolean;
  /** divide by the whole window including zero padding (PyTorch's default: true) */
  countIncludePad?: boolean;
}

function pair(v: number | Pair, what: string, op: string, min: number): Pair {
  const p: Pair = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`${op}: ${what} must be ${min > 0 ? 'positive' : 'non-negative'} integers, got ${JSON.stringify(v)}`);
  }
  return p;
}

function geometry(o: MaxPool2dOptions, op: string): PoolGeometry {
  const kernel = pair(o.kernel, 'kernel', op, 1);
  const padding = pair(o.padding ?? 0, 'padding', op, 0);
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new Error(`${op}: padding [${padding.join(', ')}] must be at most half the kernel [${kernel.join(', ')}]`);
  }
  return {
    kernel,
    stride: pair(o.stride ?? kernel, 'stride', op, 1),
    padding,
    dilation: pair(o.dilation ?? 1, 'dilation', op, 1),
    ceilMode: o.ceilMode ?? false,
  };
}

/** PyTorch's pooling_output_shape: with ceil mode a last, partial window counts unless
 * it would start in the right padding. */
export function pooledSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function checkNchw(x: Tensor, op: string): [number, number, number, number] {
  if (x.rank !== 4) throw new Error(`${op}: expects an NCHW tensor, got shape [${x.shape.join(', ')}]`);
  return x.shape as unknown as [number, number, number, number];
}

function outputShape(x: Tensor, g: PoolGeometry, op: string): [number, number, number, number] {
  const [n, c, h, w] = checkNchw(x, op);
  const oh = pooledSize(h, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], g.ceilMode);
  const ow = pooledSize(w, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], g.ceilMode);
  if (oh < 1 || ow < 1) {
    throw new Error(`${op}: input [${x.shape.join(', ')}] is too small for kernel [${g.kernel.join(', ')}] (output ${oh}x${ow})`);
  }
  return [n, c, oh, ow];
}

function poolUniform(x: Tensor, out: readonly number[], g: PoolGeometry, k: number): ArrayBuffer {
  return new UniformWriter()
    .u32(out[0]! * out[1]! * out[2]! * out[3]!, k, x.size)
    .f32(-Infinity)
    .u32(x.shape[2]!, x.shape[3]!, out[2]!, out[3]!)
    .u32(...g.kernel, ...g.stride)
    .i32(...g.padding)
    .u32(...g.dilation)
    .finish();
}

function maxPoolDual(g: PoolGeometry, x: Tensor, tx: Tensor | null): Dual {
  const shape = outputShape(x, g, 'maxPool2d');
  const y = Tensor.empty(shape);
  const k = tx ? tx.shape[0]! : 0;
  const ty = tx ? Tensor.empty([k, ...shape]) : null;
  runtime().dispatch({
    key: `maxpool2d:${!!tx}`,
    source: () => maxPoolKernel(!!tx),
    inputs: tx ? [x.buffer, tx.buffer] : [x.buffer],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: poolUniform(x, shape, g, k),
    workgroups: grid1d(y.size),
  });
  return { primal: y, tangents: ty };
}

function avgPool(p: PoolingParams['avgPool2d'], x: Tensor): Tensor {
  const shape = outputShape(x, p, 'avgPool2d');
  const y = Tensor.empty(shape);
  runtime().dispatch({
    key: `avgpool2d:${p.countIncludePad}`,
    source: () => avgPoolKernel(p.countIncludePad),
    inputs: [x.buffer],
    outputs: [y.buffer],
    uniform: poolUniform(x, shape, p, 0),
    workgroups: grid1d(y.size),
  });
  return y;
}

function adaptiveAvgPool({ output }: PoolingParams['adaptiveAvgPool2d'], x: Tensor): Tensor {
  const [n, c, h, w] = checkNchw(x, 'adaptiveAvgPool2d');
  if (h === 0 || w === 0) throw new Error(`adaptiveAvgPool2d: empty input [${x.shape.join(', ')}]`);
  // global pooling (every classifier head): a workgroup tree over h*w per plane
  if (output[0] === 1 && output[1] === 1) return reducePrims.reduceMean.impl({ axes: [2, 3], keepDims: true }, [x]);
  const shape = [n, c, ...output];
  const y = Tensor.empty(shape);
  const g: PoolGeometry = { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], ceilMode: false };
  runtime().dispatch({
    key: 'adaptiveavgpool2d',
    source: adaptiveAvgPoolKernel,
    inputs: [x.buffer],
    outputs: [y.buffer],
    uniform: poolUniform(x, shape, g, 0),
    workgroups: grid1d(y.size),
  });
  return y;
}

export const poolingPrims: PrimitiveTable<PoolingParams> = {
  maxPool2d: {
    impl: (p, [x]) => maxPoolDual(p, x!, null).primal,
    // d maxpool(x)[o] = dx[argmax of window o] (first maximal tap on ties), fused
    jvp: (p, [x], [tx]) => maxPoolDual(p, x!, tx!),
  },
  // d avgpool(x) = avgpool(dx): the K tangents run as an extra batch
  avgPool2d: linearInBatch('avgPool2d', (p, [x]) => avgPool(p, x!)),
  // d adaptive_avgpool(x) = adaptive_avgpool(dx)
  adaptiveAvgPool2d: linearInBatch('adaptiveAvgPool2d', (p, [x]) => adaptiveAvgPool(p, x!)),
};

/** Max pooling over NCHW (PyTorch's max_pool2d; padding is -inf). */
export function maxPool2d(x: Operand, options: MaxPool2dOptions): Dual {
  const g = geometry(options, 'maxPool2d');
  outputShape(primalOf(x), g, 'maxPool2d');
  return bind('maxPool2d', g, [x]);
}

/** Average pooling over NCHW (PyTorch's avg_pool2d; padding is zeros). */
export function avgPool2d(x: Operand, options: AvgPool2dOptions): Dual {
  const g = geometry({ ...options, dilation: 1 }, 'avgPool2d');
  outputShape(primalOf(x), g, 'avgPool2d');
  return bind('avgPool2d', { ...g, countIncludePad: options.countIncludePad ?? true }, [x]);
}

/** Adaptive average pooling of NCHW to `output` = [oh, ow] (or oh = ow), PyTorch's bins. */
export function adaptiveAvgPool2d(x: Operand, output: number | Pair): Dual {
  const size = pair(output, 'output size', 'adaptiveAvgPool2d', 1);
  checkNchw(primalOf(x), 'adaptiveAvgPool2d');
  return bind('adaptiveAvgPool2d', { output: size }, [x]);
}
