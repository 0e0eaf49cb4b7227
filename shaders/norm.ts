import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, main1d } from './common.js';

/** Threads per workgroup when one workgroup reduces one row. */
export const ROW_WG = 32;
/** Threads per workgroup when each thread owns a row. */
export const THREAD_WG = 32;

export interface RowNormFlags {
  /** one thread per row (short rows, or enough rows to fill the device) */
  perThread: boolean;
  /** group norm: the affine channel of element j is c0 + j / per, not j */
  grouped: boolean;
  weight: boolean;
  bias: boolean;
  tangents: boolean;
}

export function rowNormKey(f: RowNormFlags): string {
  return `rownorm:${+f.perThread}${+f.grouped}${+f.weight}${+f.bias}${+f.tangents}`;
}

/** rows: rows normalised; len: elements per row; stride: distance between a row's
 * elements (rows are [outer, len, stride] with row r = (r / stride, :, r % stride));
 * groups, per: group norm's groups and elements per channel; k: tangents; n: numel. */
const ROW_PARAMS = `struct P {
  rows: u32, len: u32, stride: u32, groups: u32, per: u32, k: u32, n: u32, eps: f32,
}`;

// Each thread's partial goes to red[]; after one barrier every thread adds all of them in
// the same order (broadcast reads), so the sum is identical across the workgroup. Two
// barriers per sum instead of log2(ROW_WG) + 1: SwiftShader pays dearly for each.
const REDUCE = `
var<workgroup> red: array<vec2f, ${ROW_WG}>;
fn rowSum(v: vec2f, lid: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  var total = vec2f(0.0);
  for (var t = 0u; t < ${ROW_WG}u; t++) { total += red[t]; }
  workgroupBarrier();
  return total;
}`;

/** Normalise each row: y = (x - mean) / sqrt(var + eps) * w[c] + b[c] (biased variance),
 * and, with tangents, for all K directions in the same dispatch
 * dy = w r (dx - mean(dx) - xhat mean(xhat dx)), r = (var + eps)^-1/2.
 * Statistics: mean m1 of (x - x_0) shifted by the row's first element, then the
 * corrected two-pass sums of d = x - m1 (mean = m1 + mean(d), var = mean(d^2) - mean(d)^2).
 * x - mu is evaluated as (x - m1) - mean(d): x - m1 is exact for x within a factor 2
 * of m1, so rows with a large common offset keep their precision even where mu itself
 * is not representable in f32. */
export function rowNormKernel(f: RowNormFlags): string {
  const bindings = [
    { name: 'x' },
    ...(f.weight ? [{ name: 'w' }] : []),
    ...(f.bias ? [{ name: 'b' }] : []),
    ...(f.tangents ? [{ name: 'tx' }] : []),
    { name: 'y', write: true },
    ...(f.tangents ? [{ name: 'ty', write: true }] : []),
  ];
  // A row's elements j: this thread's share (strided over the workgroup) or all of them.
  const loop = f.perThread
    ? 'for (var j = 0u; j < params.len; j++)'
    : `for (var j = lid; j < params.len; j += ${ROW_WG}u)`;
  const sum = (v: string) => (f.perThread ? v : `rowSum(${v}, lid)`);
  const chan = f.grouped ? 'c0 + j / params.per' : 'j';
  const scale = f.weight ? `w[${chan}]` : '1.0';
  const shift = f.bias ? ` + b[${chan}]` : '';
  const body = wgsl`
  let o = r / params.stride;
  let base = o * params.len * params.stride + (r - o * params.stride);
  let st = params.stride;
  let nf = f32(params.len);
#if ${f.grouped}
  let c0 = (o % params.groups) * (params.len / params.per);
#endif
  let pivot = x[base];
  var a = vec2f(0.0);
  ${loop} { a.x += x[base + j * st] - pivot; }
  let m1 = pivot + ${sum('a')}.x / nf;
  a = vec2f(0.0);
  ${loop} {
    let d = x[base + j * st] - m1;
    a += vec2f(d, d * d);
  }
  let s = ${sum('a')} / nf;
  let dm = s.x;
  let rstd = inverseSqrt(max(s.y - s.x * s.x, 0.0) + params.eps);
  ${loop} {
    let idx = base + j * st;
    y[idx] = ((x[idx] - m1) - dm) * rstd * ${scale}${shift};
  }
#if ${f.tangents}
  for (var k = 0u; k < params.k; k++) {
    let off = k * params.n + base;
    a = vec2f(0.0);
    ${loop} {
      let t = tx[off + j * st];
      a += vec2f(t, ((x[base + j * st] - m1) - dm) * rstd * t);
    }
    let md = ${sum('a')} / nf;
    ${loop} {
      let idx = base + j * st;
      let xh = ((x[idx] - m1) - dm) * rstd;
      ty[off + j * st] = ${scale} * rstd * (tx[off + j * st] - md.x - xh * md.y);
    }
  }
#endif
`;
  if (f.perThread) {
    return wgsl`
${ROW_PARAMS}
${declare(bindings, 'P')}
${main1d(`
  let r = i;
  if (r >= params.rows) { return; }
${body}`, THREAD_WG)}`;
  }
  // One workgroup per row: the row index is uniform across it, so the early return and
  // the barriers inside rowSum stay in uniform control flow.
  return wgsl`
${ROW_PARAMS}
${declare(bindings, 'P')}
${REDUCE}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= params.rows) { return; }
${body}
}`;
}

export interface BatchNormFlags {
  /** running mean subtracted (absent on the bias-free tangent pass) */
  mean: boolean;
  weight: boolean;
  bias: boolean;
}

export function batchNormKey(f: BatchNormFlags): string {
  return `batchnorm:${+f.mean}${+f.weight}${+f.bias}`;
}

const BN_PARAMS = 'struct P { n: u32, c: u32, inner: u32, eps: f32 }';

/** Eval-mode batch norm over [B, C, inner]: y = (x - m[c]) w[c] / sqrt(v[c] + eps) + b[c]. */
export function batchNormKernel(f: BatchNormFlags): string {
  const bindings = [
    { name: 'x' },
    ...(f.mean ? [{ name: 'm' }] : []),
    { name: 'v' },
    ...(f.weight ? [{ name: 'w' }] : []),
    ...(f.bias ? [{ name: 'b' }] : []),
    { name: 'y', write: true },
  ];
  return wgsl`
${BN_PARAMS}
${declare(bindings, 'P')}
${main1d(wgsl`
  if (i >= params.n) { return; }
  let c = (i / params.inner) % params.c;
  var s = inverseSqrt(v[c] + params.eps);
#if ${f.weight}
  s = s * w[c];
#endif
#if ${f.mean}
  var t = (x[i] - m[c]) * s;
#else
  var t = x[i] * s;
#endif
#if ${f.bias}
  t = t + b[c];
#endif
  y[i] = t;
`)}`;
}
