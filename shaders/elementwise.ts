import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, entry, main1d, unrollAxes } from './common.js';

/** f(x) and f'(x) per unary op, as WGSL expressions in `v` (and `a`, `b`: scalar params). */
export const UNARY = {
  relu: { f: 'max(v, 0.0)', df: 'select(0.0, 1.0, v > 0.0)' },
  relu6: { f: 'clamp(v, 0.0, 6.0)', df: 'select(0.0, 1.0, v > 0.0 && v < 6.0)' },
  // exact GELU: x Phi(x); d = Phi(x) + x phi(x)
  gelu: { f: 'v * phi_cdf(v)', df: 'phi_cdf(v) + v * 0.3989422804014327 * exp(-0.5 * v * v)' },
  // tanh GELU: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
  gelu_tanh: {
    f: '0.5 * v * (1.0 + tanh_safe(gelu_u(v)))',
    df: '0.5 * (1.0 + tanh_safe(gelu_u(v))) + 0.5 * v * (1.0 - tanh_safe(gelu_u(v)) * tanh_safe(gelu_u(v))) * 0.7978845608028654 * (1.0 + 0.134145 * v * v)',
  },
  // silu = x sigmoid(x); d = s (1 + x (1 - s))
  silu: { f: 'v * sigmoid(v)', df: 'sigmoid(v) * (1.0 + v * (1.0 - sigmoid(v)))' },
  sigmoid: { f: 'sigmoid(v)', df: 'sigmoid(v) * (1.0 - sigmoid(v))' },
  tanh: { f: 'tanh_safe(v)', df: '1.0 - tanh_safe(v) * tanh_safe(v)' },
  // hardswish = x relu6(x + 3) / 6; d = (2x + 3) / 6 on (-3, 3)
  hardswish: {
    f: 'v * clamp(v + 3.0, 0.0, 6.0) / 6.0',
    df: 'select(select(0.0, 1.0, v >= 3.0), (2.0 * v + 3.0) / 6.0, v > -3.0 && v < 3.0)',
  },
  exp: { f: 'exp(v)', df: 'exp(v)' },
  log: { f: 'log(v)', df: '1.0 / v' },
  sqrt: { f: 'sqrt(v)', df: '0.5 / sqrt(v)' },
  rsqrt: { f: 'inverseSqrt(v)', df: '-0.5 * inverseSqrt(v) / v' },
  // a x + b (scale, shift by constants)
  affine: { f: 'params.a * v + params.b', df: 'params.a' },
  square: { f: 'v * v', df: '2.0 * v' },
} as const;

export type UnaryOp = keyof typeof UNARY;

const MATH = `
fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}
fn tanh_safe(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}
fn gelu_u(v: f32) -> f32 { return 0.7978845608028654 * (v + 0.044715 * v * v * v); }
// erfc with fractional error < 1.2e-7 everywhere (Chebyshev fit, Numerical Recipes),
// so Phi keeps its relative accuracy deep in the negative tail.
fn erfc_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, x >= 0.0);
}
fn phi_cdf(v: f32) -> f32 { return 0.5 * erfc_(-v * 0.7071067811865476); }
`;

const UNARY_PARAMS = 'struct P { n: u32, k: u32, a: f32, b: f32 }';

/** y = f(x) and, when tangents are given, ty[k] = f'(x) tx[k] for all K in one pass. */
export function unaryKernel(op: UnaryOp, withTangents: boolean): string {
  const { f, df } = UNARY[op];
  const bindings = withTangents
    ? [{ name: 'x' }, { name: 'tx' }, { name: 'y', write: true }, { name: 'ty', write: true }]
    : [{ name: 'x' }, { name: 'y', write: true }];
  return wgsl`
${UNARY_PARAMS}
${declare(bindings, 'P')}
${MATH}
${main1d(wgsl`
  if (i >= params.n) { return; }
  let v = x[i];
  y[i] = ${f};
#if ${withTangents}
  let d = ${df};
  for (var k = 0u; k < params.k; k++) {
    ty[k * params.n + i] = d * tx[k * params.n + i];
  }
#endif
`)}`;
}

/** Partial derivatives (da, db) of each binary op at (u, w). */
export const BINARY = {
  add: { f: 'u + w', da: '1.0', db: '1.0' },
  sub: { f: 'u - w', da: '1.0', db: '-1.0' },
  mul: { f: 'u * w', da: 'w', db: 'u' },
  div: { f: 'u / w', da: '1.0 / w', db: '-u / (w * w)' },
  // ties send the derivative to the first operand
  maximum: { f: 'max(u, w)', da: 'select(0.0, 1.0, u >= w)', db: 'select(1.0, 0.0, u >= w)' },
  minimum: { f: 'min(u, w)', da: 'select(0.0, 1.0, u <= w)', db: 'select(1.0, 0.0, u <= w)' },
} as const;

export type BinaryOp = keyof typeof BINARY;

const BINARY_PARAMS = `struct P {
  n: u32, k: u32, rank: u32, na: u32, nb: u32, _p0: u32, _p1: u32, _p2: u32,
  dims: array<vec4u, 2>, sa: array<vec4u, 2>, sb: array<vec4u, 2>,
}`;

/** y = a op b with broadcasting (strides 0 on broadcast axes); tangents of either side
 * (shapes [K, ...a] and [K, ...b]) flow into ty [K, ...y] in the same pass. With `relu`
 * the value goes through ReLU and the tangents are masked where it is not positive
 * (ResNet's residual add and the activation after it, in one pass). */
export function binaryKernel(op: BinaryOp, ta: boolean, tb: boolean, rank: number, relu = false): string {
  const { f, da, db } = BINARY[op];
  const any = ta || tb;
  const bindings = [
    { name: 'a' },
    { name: 'b' },
    ...(ta ? [{ name: 'ta' }] : []),
    ...(tb ? [{ name: 'tb' }] : []),
    { name: 'y', write: true },
    ...(any ? [{ name: 'ty', write: true }] : []),
  ];
  return wgsl`
${BINARY_PARAMS}
${declare(bindings, 'P')}
${main1d(wgsl`
  if (i >= params.n) { return; }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
${unrollAxes(
  rank,
  (d) => `  {
    let size = ${entry('params.dims', d)};
    let c = rem % size;
    rem = rem / size;
    ia += c * ${entry('params.sa', d)};
    ib += c * ${entry('params.sb', d)};
  }`,
)}
  let u = a[ia];
  let w = b[ib];
  let z = ${f};
#if ${relu}
  let v = z;
  y[i] = ${UNARY.relu.f};
  let d = ${UNARY.relu.df};
#else
  y[i] = z;
#endif
#if ${any}
  for (var k = 0u; k < params.k; k++) {
    var t = 0.0;
#if ${ta}
    t += (${da}) * ta[k * params.na + ia];
#endif
#if ${tb}
    t += (${db}) * tb[k * params.nb + ib];
#endif
#if ${relu}
    t *= d;
#endif
    ty[k * params.n + i] = t;
  }
#endif
`)}`;
}
