import { runtime } from '../runtime.js';
import { Tensor, numel, stridesOf, type Shape } from '../tensor.js';
import { tangentCount, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import type { PrimitiveTable } from '../primitives.js';
import { UniformWriter, grid1d } from '../../shaders/common.js';
import { binaryKernel, unaryKernel, type BinaryOp, type UnaryOp } from '../../shaders/elementwise.js';

export interface ElementwiseParams {
  unary: { op: UnaryOp; a?: number; b?: number };
  /** `relu`: the result through ReLU, fused (the residual add of a ResNet block) */
  binary: { op: BinaryOp; relu?: boolean };
}

export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` read as `out` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const s = stridesOf(shape);
  return out.map((d, i) => {
    const j = i - (out.length - shape.length);
    return j < 0 || shape[j] === 1 ? 0 : s[j]!;
  });
}

function unaryDual(p: ElementwiseParams['unary'], x: Tensor, tx: Tensor | null): Dual {
  const y = Tensor.empty(x.shape);
  const ty = tx ? Tensor.empty(tx.shape) : null;
  const k = tx ? tx.shape[0]! : 0;
  runtime().dispatch({
    key: `unary:${p.op}:${!!tx}`,
    source: () => unaryKernel(p.op, !!tx),
    inputs: tx ? [x.buffer, tx.buffer] : [x.buffer],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter().u32(x.size, k).f32(p.a ?? 1, p.b ?? 0).finish(),
    workgroups: grid1d(x.size),
  });
  return { primal: y, tangents: ty };
}

/** Drop unit axes and merge neighbours that both operands walk contiguously, so a
 * same-shape op is one flat axis and a bias broadcast at most three. */
function collapse(dims: number[], sa: number[], sb: number[]): { dims: number[]; sa: number[]; sb: number[] } {
  const out = { dims: [] as number[], sa: [] as number[], sb: [] as number[] };
  dims.forEach((d, i) => {
    if (d === 1) return;
    const last = out.dims.length - 1;
    if (last >= 0 && out.sa[last] === sa[i]! * d && out.sb[last] === sb[i]! * d) {
      out.dims[last]! *= d;
      out.sa[last] = sa[i]!;
      out.sb[last] = sb[i]!;
    } else {
      out.dims.push(d);
      out.sa.push(sa[i]!);
      out.sb.push(sb[i]!);
    }
  });
  return out;
}

function binaryDual(p: ElementwiseParams['binary'], a: Tensor, b: Tensor, ta: Tensor | null, tb: Tensor | null): Dual {
  const { op } = p;
  const relu = p.relu ?? false;
  const shape = broadcastShapes(a.shape, b.shape);
  const axes = collapse(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  if (axes.dims.length > 8) throw new Error('binary ops support rank <= 8');
  const k = tangentCount([ta, tb]);
  const y = Tensor.empty(shape);
  const ty = ta || tb ? Tensor.empty([k, ...shape]) : null;
  runtime().dispatch({
    key: `binary:${op}${relu ? '+relu' : ''}:${!!ta}:${!!tb}:${axes.dims.length}`,
    source: () => binaryKernel(op, !!ta, !!tb, axes.dims.length, relu),
    inputs: [a.buffer, b.buffer, ...(ta ? [ta.buffer] : []), ...(tb ? [tb.buffer] : [])],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter()
      .u32(numel(shape), k, axes.dims.length, a.size, b.size, 0, 0, 0)
      .array(axes.dims)
      .array(axes.sa)
      .array(axes.sb)
      .finish(),
    workgroups: grid1d(numel(shape)),
  });
  return { primal: y, tangents: ty };
}

export const elementwise: PrimitiveTable<ElementwiseParams> = {
  unary: {
    impl: (p, [x]) => unaryDual(p, x!, null).primal,
    // d f(x) = f'(x) dx, for all K tangents in the forward kernel
    jvp: (p, [x], [tx]) => unaryDual(p, x!, tx!),
  },
  binary: {
    impl: (p, [a, b]) => binaryDual(p, a!, b!, null, null).primal,
    // d (a op b) = (d op/da) da + (d op/db) db, broadcasting tangents like values;
    // d relu(a op b) = [a op b > 0] d (a op b)
    jvp: (p, [a, b], [ta, tb]) => binaryDual(p, a!, b!, ta ?? null, tb ?? null),
  },
};

const unary = (op: UnaryOp) => (x: Operand) => bind('unary', { op }, [x]);
const binary = (op: BinaryOp) => (a: Operand, b: Operand) => bind('binary', { op }, [a, b]);

export const relu = unary('relu');
export const relu6 = unary('relu6');
/** GELU with the exact erf form (timm's default). */
export const gelu = unary('gelu');
export const geluTanh = unary('gelu_tanh');
export const silu = unary('silu');
export const sigmoid = unary('sigmoid');
export const tanh = unary('tanh');
export const hardswish = unary('hardswish');
export const exp = unary('exp');
export const log = unary('log');
export const sqrt = unary('sqrt');
export const rsqrt = unary('rsqrt');
export const square = unary('square');
/** a x + b with constants a, b. */
export const affine = (x: Operand, a: number, b = 0): Dual => bind('unary', { op: 'affine', a, b }, [x]);
export const scale = (x: Operand, a: number): Dual => affine(x, a, 0);
export const neg = (x: Operand): Dual => affine(x, -1, 0);

export const add = binary('add');
/** relu(a + b) in one pass: the value and its tangents (masked where a + b <= 0). */
export const addRelu = (a: Operand, b: Operand): Dual => bind('binary', { op: 'add', relu: true }, [a, b]);
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const maximum = binary('maximum');
export const minimum = binary('minimum');
