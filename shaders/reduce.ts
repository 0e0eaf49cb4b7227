import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { AT, declare } from './common.js';

export type ReduceOp = 'sum' | 'mean' | 'max';

/** NaN test on the bits: WGSL lets compilers assume NaN never occurs in float
 * comparisons, so `v != v` may fold to false. NONE marks "no element seen yet". */
export const MAX_HELPERS = `
const NONE = 0xffffffffu;
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
// Does (v, i) beat the current best (bv, bi)? NaN wins (max propagates it), then the
// larger value, then on ties the smaller index (PyTorch's first maximal element).
fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  if (i == NONE) { return false; }
  if (bi == NONE) { return true; }
  let nv = is_nan(v);
  let nb = is_nan(bv);
  if (nv || nb) { return nv && (!nb || i < bi); }
  return v > bv || (v == bv && i < bi);
}`;

/** The input is read through two strided views: the output index decomposes over the
 * kept dims, the reduction index over the reduced dims (adjacent dims merged on the
 * CPU). The common case, at most two kept groups and one reduced group ([outer, R,
 * inner]), gets scalar strides: indexing the uniform arrays dynamically is slow on
 * SwiftShader (about 7x on a [70000, 20] row sum). */
const REDUCE_PARAMS = `struct P {
  n_out: u32, r: u32, k: u32, n_in: u32,
  n_kept: u32, n_red: u32, inner_size: u32, outer_stride: u32,
  inner_stride: u32, red_stride: u32, _p0: u32, _p1: u32,
  kept_dims: array<vec4u, 2>, kept_strides: array<vec4u, 2>,
  red_dims: array<vec4u, 2>, red_strides: array<vec4u, 2>,
}`;

const SIMPLE_OFFSETS = `
fn kept_offset(o: u32) -> u32 {
  return (o / params.inner_size) * params.outer_stride + (o % params.inner_size) * params.inner_stride;
}
fn red_offset(r: u32) -> u32 { return r * params.red_stride; }`;

const GENERAL_OFFSETS = `
${AT}
fn kept_offset(o: u32) -> u32 {
  var rem = o;
  var off = 0u;
  for (var d = params.n_kept; d > 0u; d--) {
    let size = at(params.kept_dims, d - 1u);
    off += (rem % size) * at(params.kept_strides, d - 1u);
    rem /= size;
  }
  return off;
}
fn red_offset(r: u32) -> u32 {
  var rem = r;
  var off = 0u;
  for (var d = params.n_red; d > 0u; d--) {
    let size = at(params.red_dims, d - 1u);
    off += (rem % size) * at(params.red_strides, d - 1u);
    rem /= size;
  }
  return off;
}`;

function reduceBindings(withTangents: boolean) {
  return withTangents
    ? [{ name: 'x' }, { name: 'tx' }, { name: 'y', write: true }, { name: 'ty', write: true }]
    : [{ name: 'x' }, { name: 'y', write: true }];
}

/** Serial accumulation of `term` over this thread's share of a row, in blocks of 32 and
 * superblocks of 32 blocks: the rounding error grows like 64 + n/1024 rather than n.
 * Declares `total`. */
function blockedSum(total: string, loop: string, term: string): string {
  return `
  var ${total} = 0.0;
  {
    var blk = 0.0;
    var sup = 0.0;
    var c1 = 0u;
    var c2 = 0u;
    ${loop} {
      blk += ${term};
      c1++;
      if (c1 == 32u) {
        sup += blk;
        blk = 0.0;
        c1 = 0u;
        c2++;
        if (c2 == 32u) { ${total} += sup; sup = 0.0; c2 = 0u; }
      }
    }
    ${total} += sup + blk;
  }`;
}

/** Rows are split over `tpr` threads each (a power of two; `wg / tpr` rows per
 * workgroup). Each thread reduces a strided share of its row serially, then a
 * shared-memory tree combines the tpr partials; tpr = 1 needs no barrier at all. */
const ROW_INDEX = (tpr: number, wg: number) => `
  let lane = lid % ${tpr}u;
  let o = (wid.y * nwg.x + wid.x) * ${wg / tpr}u + lid / ${tpr}u;
  let valid = o < ROWS;
  let len = select(0u, params.r, valid);`;

/** sum / mean / max over the reduced view. max also tracks the winning index (the
 * first maximal element on ties) and, with tangents, copies each tangent's entry at that
 * index (the JVP of max) in the same pass. */
export function reduceKernel(op: ReduceOp, general: boolean, tpr: number, wg: number, withTangents: boolean): string {
  const isMax = op === 'max';
  const tree = tpr > 1;
  return wgsl`
${REDUCE_PARAMS}
${declare(reduceBindings(withTangents), 'P')}
${general ? GENERAL_OFFSETS : SIMPLE_OFFSETS}
${MAX_HELPERS}
#if ${tree}
var<workgroup> sv: array<f32, ${wg}>;
#if ${isMax}
var<workgroup> si: array<u32, ${wg}>;
#endif
#endif

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
${ROW_INDEX(tpr, wg).replace('ROWS', 'params.n_out')}
  var base = 0u;
  if (valid) { base = kept_offset(o); }
#if ${isMax}
  var bv = 0.0;
  var bi = NONE;
  for (var r = lane; r < len; r += ${tpr}u) {
    let v = x[base + red_offset(r)];
    if (beats(v, r, bv, bi)) { bv = v; bi = r; }
  }
#if ${tree}
  sv[lid] = bv;
  si[lid] = bi;
  workgroupBarrier();
  for (var s = ${tpr / 2}u; s > 0u; s >>= 1u) {
    if (lane < s && beats(sv[lid + s], si[lid + s], sv[lid], si[lid])) {
      sv[lid] = sv[lid + s];
      si[lid] = si[lid + s];
    }
    workgroupBarrier();
  }
  bv = sv[lid - lane];
  bi = si[lid - lane];
#endif
  if (!valid) { return; }
  if (lane == 0u) { y[o] = bv; }
#if ${withTangents}
  let src = base + red_offset(bi);
  for (var k = lane; k < params.k; k += ${tpr}u) {
    ty[k * params.n_out + o] = tx[k * params.n_in + src];
  }
#endif
#else
${blockedSum('acc', `for (var r = lane; r < len; r += ${tpr}u)`, 'x[base + red_offset(r)]')}
#if ${tree}
  sv[lid] = acc;
  workgroupBarrier();
  for (var s = ${tpr / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) { sv[lid] += sv[lid + s]; }
    workgroupBarrier();
  }
  acc = sv[lid];
#endif
  if (valid && lane == 0u) {
#if ${op === 'mean'}
    y[o] = acc / f32(params.r);
#else
    y[o] = acc;
#endif
  }
#endif
}`;
}

/** Rows of length r, `inner` apart: the [outer, r, inner] view of the input. */
const SOFTMAX_PARAMS = 'struct P { rows: u32, r: u32, inner: u32, k: u32, n: u32, _p0: u32, _p1: u32, _p2: u32 }';

/** Combine the tpr partials of each row (all threads of the workgroup must call it). */
function groupReduce(name: string, combine: string, tpr: number): string {
  if (tpr === 1) return `fn ${name}(v: f32, lid: u32, lane: u32) -> f32 { return v; }`;
  return `
fn ${name}(v: f32, lid: u32, lane: u32) -> f32 {
  sv[lid] = v;
  workgroupBarrier();
  for (var s = ${tpr / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) { sv[lid] = ${combine}; }
    workgroupBarrier();
  }
  let out = sv[lid - lane];
  workgroupBarrier();
  return out;
}`;
}

/** softmax / log-softmax along a row, stable (the row max is subtracted before exp).
 * With tangents, for each of the K directions, relative to the tangent r = dx_a at the
 * row's (first) argmax a: s = sum_j p_j (dx_j - r), then d softmax = p ((dx - r) - s)
 * and d log-softmax = (dx - r) - s, all in the same dispatch. That is the textbook
 * p (dx - sum_j p_j dx_j) rearranged: for a confident row (p_a near 1) the textbook
 * form subtracts two nearly equal numbers at the argmax and loses digits in float32
 * (measured: 5e-3 relative on a trained model), this one sums only the small p_j. */
export function softmaxKernel(log: boolean, tpr: number, wg: number, withTangents: boolean): string {
  const rowLoop = `for (var j = lane; j < len; j += ${tpr}u)`;
  return wgsl`
${SOFTMAX_PARAMS}
${declare(reduceBindings(withTangents), 'P')}
#if ${tpr > 1}
var<workgroup> sv: array<f32, ${wg}>;
#endif
${groupReduce('group_max', 'max(sv[lid], sv[lid + s])', tpr)}
${groupReduce('group_sum', 'sv[lid] + sv[lid + s]', tpr)}
#if ${withTangents}
${groupReduce('group_min', 'min(sv[lid], sv[lid + s])', tpr)}
#endif

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
${ROW_INDEX(tpr, wg).replace('ROWS', 'params.rows')}
  let base = (o / params.inner) * params.r * params.inner + o % params.inner;
  let stride = params.inner;
  // every thread starts from a real element of its row, so no -inf sentinel is needed
  var m = 0.0;
  if (valid) { m = x[base]; }
  ${rowLoop} { m = max(m, x[base + j * stride]); }
  m = group_max(m, lid, lane);
${blockedSum('e', rowLoop, 'exp(x[base + j * stride] - m)')}
  let s = group_sum(e, lid, lane);
#if ${log}
  let ls = log(s);
#endif
  ${rowLoop} {
    let idx = base + j * stride;
#if ${log}
    y[idx] = x[idx] - m - ls;
#else
    y[idx] = exp(x[idx] - m) / s;
#endif
  }
#if ${withTangents}
  // the first index holding the row max (as f32: rows are far below 2^24 long)
  var am = 3.0e38;
  ${rowLoop} { if (x[base + j * stride] == m) { am = min(am, f32(j)); } }
  am = group_min(am, lid, lane);
  // each thread rereads only the y entries it wrote itself: no barrier needed
  for (var k = 0u; k < params.k; k++) {
    let t0 = k * params.n;
    var r = 0.0;
    if (valid) { r = tx[t0 + base + u32(min(am, f32(len - 1u))) * stride]; }
#if ${log}
${blockedSum('d', rowLoop, 'exp(y[base + j * stride]) * (tx[t0 + base + j * stride] - r)')}
#else
${blockedSum('d', rowLoop, 'y[base + j * stride] * (tx[t0 + base + j * stride] - r)')}
#endif
    let sd = group_sum(d, lid, lane);
    ${rowLoop} {
      let idx = base + j * stride;
#if ${log}
      ty[t0 + idx] = (tx[t0 + idx] - r) - sd;
#else
      ty[t0 + idx] = y[idx] * ((tx[t0 + idx] - r) - sd);
#endif
    }
  }
#endif
}`;
}
