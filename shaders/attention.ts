import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare } from './common.js';

/** Compile-time shape of one fused attention kernel. */
export interface AttentionConfig {
  /** head dim of q and k, and of v (and the output) */
  d: number;
  dv: number;
  /** query rows per workgroup, one thread each */
  bq: number;
  /** keys per shared-memory tile */
  bk: number;
  /** tangent slots per dispatch (0: value only); the dispatch's count is a uniform <= kc */
  kc: number;
  /** which operands carry tangents */
  tq: boolean;
  tk: boolean;
  tv: boolean;
}

const vec4s = (n: number) => Math.ceil(n / 4);

/** Words of workgroup memory per key of a tile: k and v rows padded to whole vec4s, and
 * one tangent row of each operand that carries tangents (staged a direction at a time). */
export function attentionWordsPerKey(c: Pick<AttentionConfig, 'd' | 'dv' | 'kc' | 'tk' | 'tv'>): number {
  const [d4, dv4] = [vec4s(c.d), vec4s(c.dv)];
  const tangentRows = c.kc > 0 ? (c.tk ? d4 : 0) + (c.tv ? dv4 : 0) : 0;
  return 4 * (d4 + dv4 + tangentRows);
}

export function attentionKey(c: AttentionConfig): string {
  return `attention:d${c.d}:dv${c.dv}:q${c.bq}:k${c.bk}:t${c.kc}${c.tq ? 'q' : ''}${c.tk ? 'k' : ''}${c.tv ? 'v' : ''}`;
}

/** n, m: queries and keys per head; bh: (batch, head) pairs; heads: heads per batch
 * item; qblocks: workgroups per pair; k0, kn: this dispatch's tangent slots
 * [k0, k0 + kn) of K; write_o: 1 if this dispatch writes the value (tangent chunks
 * after the first only recompute it). Each operand's row r of pair (b, h) starts at
 * base + b sb + h sh + r sn (its elements contiguous), and its tangent slot t is
 * t tstride further on: so q, k, v may be separate [B, H, N, d] tensors or one packed
 * [B, N, 3 H d] qkv tensor, and the output [B, H, N, dv] or heads merged [B, N, H dv]. */
const PARAMS = `struct Layout { base: u32, sb: u32, sh: u32, sn: u32 }
struct P {
  n: u32, m: u32, bh: u32, heads: u32, qblocks: u32, k0: u32, kn: u32, write_o: u32,
  scale: f32, _p0: u32, _p1: u32, _p2: u32,
  lq: Layout, lk: Layout, lv: Layout, lo: Layout,
  tstride: vec4u,
}`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sum = (terms: string[]) => terms.join(' + ');

/** A vec4 of row elements 4 c4 .. 4 c4 + 3 at `at` in `buf`; lanes past `width` are 0. */
function rowVec(buf: string, at: string, c4: number, width: number): string {
  const lane = (t: number) => (4 * c4 + t < width ? `${buf}[${at} + ${4 * c4 + t}u]` : '0.0');
  return `vec4f(${range(4).map(lane).join(', ')})`;
}

/** Copy keys [t0, t0 + nk) of one head (row j at element `base + j * stride`) into tile
 * `dst` as vec4s, zero-padded past `width`; loops over the whole workgroup. */
function stage(dst: string, src: string, base: string, stride: string, width: number): string {
  const w4 = vec4s(width);
  const lane = (t: number) =>
    width % 4 === 0 ? `${src}[at + ${t}u]` : `select(0.0, ${src}[min(at + ${t}u, lim)], c4 * 4u + ${t}u < ${width}u)`;
  return `
    for (var i = lid; i < BK * ${w4}u; i += BQ) {
      let j = i / ${w4}u;
      let c4 = i % ${w4}u;
      if (j < nk) {
        let row_at = ${base} + (t0 + j) * ${stride};
        let at = row_at + c4 * 4u;
        let lim = row_at + ${width - 1}u;
        ${dst}[i] = vec4f(${range(4).map(lane).join(', ')});
      }
    }`;
}

/**
 * o = softmax(scale q k^T) v over keys, and with tangents its JVP, in one pass over key
 * tiles with an online softmax: the N x M score matrix never exists. One thread owns one
 * query row and keeps, rescaled by exp(m_old - m_new) whenever the running max grows:
 *   l = sum_j e_j,  acc = sum_j e_j v_j                         (e_j = exp(s_j - m))
 *   a = sum_j e_j (ds_j - r),  te = sum_j e_j ((ds_j - r) v_j + dv_j)   per tangent,
 * with ds_j = scale (dq . k_j + q . dk_j). Then o = acc / l and
 *   do = sum_j p_j (ds_j - sum_i p_i ds_i) v_j + sum_j p_j dv_j = te / l - (a / l) o.
 * The shift r (ds of the first key) cancels exactly in the math; it only keeps a common
 * offset of ds out of te and a, so their difference loses fewer digits.
 * Keys and values of a tile sit in workgroup memory for all query rows; the tangents of
 * k and v are staged one direction at a time through tiles of the same shape.
 * Rows live in named vec4 registers (loops over D, Dv and the tangent slots are unrolled
 * here): dynamically indexed private arrays compile to per-lane memory on CPU drivers.
 */
export function attentionKernel(c: AttentionConfig): string {
  const { d, dv, bq, bk, kc } = c;
  const [d4, dv4] = [vec4s(d), vec4s(dv)];
  const tan = kc > 0;
  const tq = tan && c.tq;
  const tk = tan && c.tk;
  const tv = tan && c.tv;
  const ds = tq || tk;
  const bindings = [
    { name: 'q' },
    { name: 'k' },
    { name: 'v' },
    ...(tq ? [{ name: 'tq' }] : []),
    ...(tk ? [{ name: 'tk' }] : []),
    ...(tv ? [{ name: 'tv' }] : []),
    { name: 'o', write: true },
    ...(tan ? [{ name: 'to', write: true }] : []),
  ];
  const D4 = range(d4);
  const DV4 = range(dv4);
  const te = (i: number, c4: number) => `te${i}_${c4}`;

  // one tangent slot: stage its k and v tangent tiles, then fold the tile's keys in
  const tangentSlot = (i: number) => wgsl`
    if (${i}u < params.kn) {
      let kt = params.k0 + ${i}u;
#if ${tk || tv}
      workgroupBarrier();
#endif
#if ${tk}
${stage('stk', 'tk', 'k_at + kt * params.tstride.y', 'params.lk.sn', d)}
#endif
#if ${tv}
${stage('stv', 'tv', 'v_at + kt * params.tstride.z', 'params.lv.sn', dv)}
#endif
#if ${tk || tv}
      workgroupBarrier();
#endif
#if ${tq}
      let dq_at = q_at + kt * params.tstride.x;
${D4.map((c4) => `      let dq${c4} = ${rowVec('tq', 'dq_at', c4, d)};`).join('\n')}
#endif
      ta${i} *= alpha;
${DV4.map((c4) => `      ${te(i, c4)} *= alpha;`).join('\n')}
      for (var j = 0u; j < nk; j++) {
        let ej = e[j];
#if ${ds}
        let kb = j * ${d4}u;
        let dsj = scale * (${sum([...(tq ? D4.map((c4) => `dot(dq${c4}, sk[kb + ${c4}u])`) : []), ...(tk ? D4.map((c4) => `dot(q${c4}, stk[kb + ${c4}u])`) : [])])});
        if (first && j == 0u) { sh${i} = dsj; }
        let w = ej * (dsj - sh${i});
        ta${i} += w;
#endif
        let vb = j * ${dv4}u;
${DV4.map((c4) => {
  const terms = [...(ds ? [`w * sv[vb + ${c4}u]`] : []), ...(tv ? [`ej * stv[vb + ${c4}u]`] : [])];
  return `        ${te(i, c4)} += ${sum(terms)};`;
}).join('\n')}
      }
    }`;

  const storeRow = (buf: string, at: string, value: (c4: number) => string) =>
    DV4.map((c4) => {
      const v = `let w${c4} = ${value(c4)};`;
      const lanes = range(4)
        .filter((t) => 4 * c4 + t < dv)
        .map((t) => `${buf}[${at} + ${4 * c4 + t}u] = w${c4}[${t}];`);
      return `    { ${v} ${lanes.join(' ')} }`;
    }).join('\n');

  return wgsl`
${PARAMS}
${declare(bindings, 'P')}
const D = ${d}u;
const DV = ${dv}u;
const BQ = ${bq}u;
const BK = ${bk}u;
var<workgroup> sk: array<vec4f, ${bk * d4}>;
var<workgroup> sv: array<vec4f, ${bk * dv4}>;
#if ${tk}
var<workgroup> stk: array<vec4f, ${bk * d4}>;
#endif
#if ${tv}
var<workgroup> stv: array<vec4f, ${bk * dv4}>;
#endif

@compute @workgroup_size(${bq})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.y * nwg.x + wid.x;
  if (g >= params.bh * params.qblocks) { return; }
  let pair = g / params.qblocks;
  let b = pair / params.heads;
  let h = pair % params.heads;
  let row = (g % params.qblocks) * BQ + lid;
  let valid = row < params.n;
  let scale = params.scale;
  let lq = params.lq;
  let lk = params.lk;
  let lv = params.lv;
  let lo = params.lo;
  // rows past N read row N - 1 (a real row) and never store
  let q_at = lq.base + b * lq.sb + h * lq.sh + min(row, params.n - 1u) * lq.sn;
  let k_at = lk.base + b * lk.sb + h * lk.sh;
  let v_at = lv.base + b * lv.sb + h * lv.sh;
${D4.map((c4) => `  let q${c4} = ${rowVec('q', 'q_at', c4, d)};`).join('\n')}
  var m = 0.0;
  var l = 0.0;
${DV4.map((c4) => `  var acc${c4} = vec4f(0.0);`).join('\n')}
  var e: array<f32, ${bk}>;
${range(kc)
  .map((i) => [`  var ta${i} = 0.0;`, `  var sh${i} = 0.0;`, ...DV4.map((c4) => `  var ${te(i, c4)} = vec4f(0.0);`)].join('\n'))
  .join('\n')}

  for (var t0 = 0u; t0 < params.m; t0 += BK) {
    let nk = min(BK, params.m - t0);
    let first = t0 == 0u;
    workgroupBarrier();
${stage('sk', 'k', 'k_at', 'lk.sn', d)}
${stage('sv', 'v', 'v_at', 'lv.sn', dv)}
    workgroupBarrier();

    var tmax = 0.0;
    for (var j = 0u; j < nk; j++) {
      let kb = j * ${d4}u;
      let s = scale * (${sum(D4.map((c4) => `dot(q${c4}, sk[kb + ${c4}u])`))});
      e[j] = s;
      tmax = select(max(tmax, s), s, j == 0u);
    }
    let mn = select(max(m, tmax), tmax, first);
    // the first tile has nothing to rescale (and no running max yet)
    let alpha = select(exp(m - mn), 0.0, first);
    m = mn;
    l *= alpha;
${DV4.map((c4) => `    acc${c4} *= alpha;`).join('\n')}
    for (var j = 0u; j < nk; j++) {
      let ej = exp(e[j] - m);
      e[j] = ej;
      l += ej;
      let vb = j * ${dv4}u;
${DV4.map((c4) => `      acc${c4} += ej * sv[vb + ${c4}u];`).join('\n')}
    }
${range(kc).map(tangentSlot).join('\n')}
  }

  if (!valid) { return; }
  let inv = 1.0 / l;
  let o_at = lo.base + b * lo.sb + h * lo.sh + row * lo.sn;
${DV4.map((c4) => `  acc${c4} *= inv;`).join('\n')}
  if (params.write_o != 0u) {
${storeRow('o', 'o_at', (c4) => `acc${c4}`)}
  }
${range(kc)
  .map(
    (i) => `  if (${i}u < params.kn) {
    let at = o_at + (params.k0 + ${i}u) * params.tstride.w;
    let mean_ds = ta${i} * inv;
${storeRow('to', 'at', (c4) => `${te(i, c4)} * inv - mean_ds * acc${c4}`)}
  }`,
  )
  .join('\n')}
}`;
}
