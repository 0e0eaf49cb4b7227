import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, subgroupHeader, threadEntry } from './common.js';

/** Compile-time shape of an implicit-GEMM convolution kernel. Per group g the output is
 * C[m, n] = sum_k W[g Mg + m, k] X_col[k, n] with m an output channel of the group,
 * n = (b, oh, ow) over the whole batch and k = (ci, ky, kx); X_col is never built. */
export interface ImplicitGemmTiling {
  /** output channels per workgroup */
  tm: number;
  /** output pixels per workgroup */
  tn: number;
  /** reduction depth per shared-memory step */
  tk: number;
  /** outputs per thread along m and n (rn a multiple of 4: accumulators are vec4s along n) */
  rm: number;
  rn: number;
}

/** Every conv kernel binds a bias and reads it only where params.has_bias is set (the
 * weights stand in when there is none): one pipeline serves a biased primal and its
 * bias-free tangents, which halves compiles on software adapters. */
const CONV_BINDINGS = [{ name: 'x' }, { name: 'wt' }, { name: 'bias' }, { name: 'y', write: true }];

export interface ImplicitGemmSpec extends ImplicitGemmTiling {
  kh: number;
  kw: number;
  /** 1x1, stride 1, no padding: X_col[ci, (b, p)] = x[b, ci, p], no spatial bounds checks */
  pointwise: boolean;
}

export const IMPLICIT_GEMM_PARAMS = `struct P {
  cin: u32, h: u32, w: u32, cout: u32,
  hout: u32, wout: u32, cg: u32, mg: u32,
  kdim: u32, n: u32, m_tiles: u32, has_bias: u32,
  sh: u32, sw: u32, dh: u32, dw: u32,
  ph: u32, pw: u32, _p1: u32, _p2: u32,
}`;

export function implicitGemmKey(s: ImplicitGemmSpec): string {
  return `conv.gemm:${s.tm}x${s.tn}x${s.tk}:${s.rm}x${s.rn}:${s.kh}x${s.kw}:${s.pointwise}`;
}

/** Register-tiled implicit GEMM: each workgroup computes a TM x TN block of one group's
 * output, staging TK-deep slices of W and of the on-the-fly im2col matrix in shared
 * memory; each thread accumulates RM x RN outputs. Bias is added in the epilogue.
 * Workgroups: x (and z, for more than 65535) over n-tiles, y over (group, m-tile).
 * The per-thread loops stay loops (GPU compilers unroll them): unrolled by hand, this
 * kernel made SwiftShader's barrier (coroutine) lowering exhaust 23 GB of memory. */
export function implicitGemmKernel(s: ImplicitGemmSpec): string {
  const { tm, tn, tk, rm, rn, kh, kw } = s;
  const threads = (tm / rm) * (tn / rn);
  if (tm % rm || tn % rn || rn % 4 || threads > 256 || (tm * tk) % threads || (tk * tn) % threads || threads % tn) {
    throw new Error(`conv: invalid GEMM tiling ${implicitGemmKey(s)}`);
  }
  const bindings = CONV_BINDINGS;
  const tx = tn / rn;
  // B-tile loads: thread `lid` always loads column lid % TN, rows lid / TN + i * (threads / TN)
  const bRows = threads / tn;
  return wgsl`
${IMPLICIT_GEMM_PARAMS}
${declare(bindings, 'P')}
const TM = ${tm}u;
const TN = ${tn}u;
const TK = ${tk}u;
const RM = ${rm}u;
const RN4 = ${rn / 4}u;
const KHW = ${kh * kw}u;
const KW = ${kw}u;
var<workgroup> As: array<f32, ${tk * tm}>;
var<workgroup> Bs: array<vec4f, ${(tk * tn) / 4}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.z * nwg.x + wid.x) * TN;
  let g = wid.y / params.m_tiles;
  let m0 = (wid.y % params.m_tiles) * TM;
  if (n0 >= params.n) { return; }
  let hw = params.h * params.w;
  let p_out = params.hout * params.wout;

  // this thread's im2col column, fixed over the whole reduction
  let bn = lid % TN;
  let n_load = n0 + bn;
  let n_ok = n_load < params.n;
  let nb = select(0u, n_load / p_out, n_ok);
  let np = select(0u, n_load % p_out, n_ok);
  let xbase = (nb * params.cin + g * params.cg) * hw;
#if ${s.pointwise}
  let xcol = xbase + np;
#else
  let iy0 = i32((np / params.wout) * params.sh) - i32(params.ph);
  let ix0 = i32((np % params.wout) * params.sw) - i32(params.pw);
#endif
  let wrow0 = (g * params.mg + m0) * params.kdim;

  let txi = lid % ${tx}u;
  let tyi = lid / ${tx}u;
  var acc: array<vec4f, ${(rm * rn) / 4}>;

  for (var k0 = 0u; k0 < params.kdim; k0 += TK) {
    for (var e = lid; e < TM * TK; e += ${threads}u) {
      let am = e / TK;
      let ak = e % TK;
      var v = 0.0;
      if (m0 + am < params.mg && k0 + ak < params.kdim) {
        v = wt[wrow0 + am * params.kdim + k0 + ak];
      }
      As[ak * TM + am] = v;
    }
    for (var r = lid / TN; r < TK; r += ${bRows}u) {
      let k = k0 + r;
      var v = 0.0;
#if ${s.pointwise}
      if (n_ok && k < params.kdim) {
        v = x[xcol + k * hw];
      }
#else
      let ci = k / KHW;
      let kr = k % KHW;
      let iy = iy0 + i32((kr / KW) * params.dh);
      let ix = ix0 + i32((kr % KW) * params.dw);
      if (n_ok && k < params.kdim && iy >= 0 && iy < i32(params.h) && ix >= 0 && ix < i32(params.w)) {
        v = x[xbase + ci * hw + u32(iy) * params.w + u32(ix)];
      }
#endif
      Bs[(r * TN + bn) / 4u][bn % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var b: array<vec4f, ${rn / 4}>;
      for (var j = 0u; j < RN4; j++) {
        b[j] = Bs[(kk * TN) / 4u + txi * RN4 + j];
      }
      for (var i = 0u; i < RM; i++) {
        let a = As[kk * TM + tyi * RM + i];
        for (var j = 0u; j < RN4; j++) {
          acc[i * RN4 + j] = fma(vec4f(a), b[j], acc[i * RN4 + j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < RM; i++) {
    let m = m0 + tyi * RM + i;
    if (m >= params.mg) { break; }
    let co = g * params.mg + m;
    let bv = select(0.0, bias[co], params.has_bias != 0u);
    for (var j = 0u; j < RN4 * 4u; j++) {
      let n = n0 + txi * RN4 * 4u + j;
      if (n >= params.n) { break; }
      y[((n / p_out) * params.cout + co) * p_out + n % p_out] = acc[i * RN4 + j / 4u][j % 4u] + bv;
    }
  }
}`;
}

/** Compile-time shape of the barrier-free direct kernel. */
export interface DirectSpec {
  kh: number;
  kw: number;
  /** width stride and dilation: they fix which input columns a row segment reads */
  sw: number;
  dw: number;
  /** output channels and adjacent outputs of one row per thread (rn a multiple of 4) */
  rm: number;
  rn: number;
  /** 1x1, stride 1, unpadded, viewed as one row of H*W pixels per image */
  flat: boolean;
  /** subgroup size for sharing weight loads (lane l loads channel m0 + l, ... and
   * broadcasts it), or 0: each lane loads all RM */
  sg: number;
  /** input channels per accumulator-major block (filters of at most 3 rows), or none:
   * tap-major steps */
  kblock?: number;
  /** adds the `res` binding (the output's shape) before the activation */
  res?: boolean;
  /** output rows are whole vec4s (wout % 4 == 0; a flat row is the whole map): the
   * epilogue stores, and loads the ReLU mask and the residual, four outputs at a time,
   * and a flat kernel loads its input rows (then whole vec4s too) the same way */
  vec4?: boolean;
  /** not flat: input rows are whole vec4s (W % 4 == 0), so a row span is loaded as the
   * aligned vec4s that cover it; the value is the width padding mod 4 (the span's offset
   * from the vec4 grid) */
  x4?: number;
}

export const DIRECT_PARAMS = `struct P {
  cin: u32, h: u32, w: u32, cout: u32,
  hout: u32, wout: u32, cg: u32, mg: u32,
  kdim: u32, segs: u32, threads: u32, m_tiles: u32,
  sh: u32, dh: u32, ph: u32, pw: u32,
  has_bias: u32, act: u32, mb: u32, _p2: u32,
}`;

/** The direct kernel's epilogue (P.act), after adding `res` at the output's own index in
 * a `res` kernel (a residual block's shortcut, or its tangent): the sum as it is, through
 * ReLU (a value), or masked where `mask` (the ReLU's output for batch entry b % mb) is
 * not positive (a tangent: d relu(z) = [z > 0] dz). */
export const ConvAct = { none: 0, relu: 1, reluMask: 2 } as const;
export type ConvAct = (typeof ConvAct)[keyof typeof ConvAct];

const DIRECT_BINDINGS = [{ name: 'x' }, { name: 'wt' }, { name: 'bias' }, { name: 'mask' }, { name: 'y', write: true }];

export const DIRECT_WG = 64;

export function directKey(s: DirectSpec): string {
  return `conv.direct:${s.kh}x${s.kw}:sw${s.sw}:dw${s.dw}:${s.rm}x${s.rn}:${s.flat}${s.sg ? `:sg${s.sg}` : ''}${s.kblock ? `:kb${s.kblock}` : ''}${s.res ? ':res' : ''}${s.vec4 ? ':v4' : ''}${s.x4 !== undefined ? `:x4p${s.x4}` : ''}`;
}

/** Direct convolution without shared memory or barriers, for CPU adapters (SwiftShader,
 * lavapipe), where workgroup memory is ordinary memory, barriers switch coroutines and
 * every dynamically indexed load is a per-lane gather: what counts there is FMAs per
 * load (and a vec4 load costs what a scalar one does, so rows of whole vec4s are read
 * and written as vec4s). A thread computes RM output channels of one group times RN adjacent outputs of
 * one output row; per (input channel, filter row) it loads the row's input span once
 * ((RN-1) SW + (KW-1) DW + 1 values, shared by all RM channels and KW taps) and RM*KW
 * weights; with SG, lane l of a subgroup (whose lanes all hold the same channel block)
 * loads channels m0 + l, m0 + l + SG, ... and subgroupBroadcast hands them on, RM / SG
 * loads per tap instead of RM. Everything per thread is unrolled here: SwiftShader keeps only constant-
 * indexed values in registers. Threads: x (and z) over row segments (b, oh, segment),
 * y over (group, m-tile). */
export function directKernel(s: DirectSpec): string {
  const { kh, kw, sw, dw, rm, rn, sg } = s;
  if (rn % 4 || (sg && rm % sg) || (s.x4 !== undefined && (s.flat || !(Number.isInteger(s.x4) && s.x4 >= 0 && s.x4 < 4))) || (s.kblock !== undefined && !(Number.isInteger(s.kblock) && s.kblock >= 1))) throw new Error(`conv: invalid direct tiling ${directKey(s)}`);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const span = range((rn - 1) * sw + (kw - 1) * dw + 1);
  const used = new Set(range(rn).flatMap((j) => range(kw).map((kx) => j * sw + kx * dw)));
  const loads = span.filter((q) => used.has(q));
  const bound = s.res ? [...DIRECT_BINDINGS.slice(0, 4), { name: 'res' }, DIRECT_BINDINGS[4]!] : DIRECT_BINDINGS;
  // the output-shaped bindings, and a flat kernel's input, as vec4s (pooled buffers are
  // whole vec4s, the dummies too)
  const vec4s = [...(s.vec4 ? ['mask', 'res', 'y'] : []), ...((s.flat && s.vec4) || s.x4 !== undefined ? ['x'] : [])];
  const bindings = bound.map((b) => (vec4s.includes(b.name) ? { ...b, type: 'array<vec4f>' } : b));
  // Rows of whole vec4s: the span's column q is component (lead + q) % 4 of the
  // (lead + q) / 4-th vec4 from the aligned column ix0 - lead, and a vec4 lies wholly
  // inside the row or wholly in its padding. One per-lane load loop for four values.
  const lead = s.x4 !== undefined ? (4 - s.x4) % 4 : 0;
  const shift = (d: number) => (d < 0 ? `- ${-d}` : `+ ${d}`);
  const rowVecs = s.x4 !== undefined ? [...new Set(loads.map((q) => (lead + q) >> 2))] : [];
  // Names carry the step's suffix `p` so that several steps can share one block.
  const weightLoads = (kx: number, p: string) =>
    sg
      ? range(rm / sg).map((q) => `      let wl${q}_${kx}${p} = wt[wo${q}${p} + ${kx}u];`)
      : range(rm).map((i) => `      let w${i}_${kx}${p} = wt[wo${i}${p} + ${kx}u];`);
  const broadcast = (i: number, kx: number, p: string) =>
    sg ? [`      let w${i}_${kx}${p} = subgroupBroadcast(wl${Math.floor(i / sg)}_${kx}${p}, ${i % sg}u);`] : [];
  // a flat row of whole vec4s starts each segment on a vec4 (segments are rn % 4 == 0 long)
  const xv4 = s.flat && s.vec4;
  const inputVecs = (kx: number, p: string) =>
    xv4 ? range(rn / 4).map((jj) => `      let v${jj}_${kx}${p} = x[xr${p} / 4u + ${jj}u];`) : range(rn / 4).map(
      (jj) => `      let v${jj}_${kx}${p} = vec4f(${range(4).map((c) => `x${(4 * jj + c) * sw + kx * dw}${p}`).join(', ')});`,
    );
  const tapLoads = (kx: number, p: string) => [
    ...weightLoads(kx, p),
    ...range(rm).flatMap((i) => broadcast(i, kx, p)),
    ...inputVecs(kx, p),
  ];
  const fmaLine = (i: number, jj: number, kx: number, p: string) =>
    `      acc${i}_${jj} = fma(vec4f(w${i}_${kx}${p}), v${jj}_${kx}${p}, acc${i}_${jj});`;
  // one (input channel, filter row) step: the row span, then KW taps for RM channels.
  // In flat mode reads past a row end feed only outputs past it, which are not stored
  // (and WebGPU clamps reads past the buffer), so no bounds checks.
  const stepLoads = (ci: string, ky: string, p: string) => [
    s.flat
      ? `      let xr${p} = xbase + (${ci}) * hw + ow0;`
      : [
          `      let iy${p} = iyb + i32((${ky}) * params.dh);`,
          `      let row_ok${p} = iy${p} >= 0 && iy${p} < i32(params.h);`,
          `      let xr${p} = i32(xbase + (${ci}) * hw) + iy${p} * i32(params.w) + ix0;`,
        ].join('\n'),
    ...rowVecs.map(
      (v) => `      let xv${v}${p} = select(vec4f(0.0), x[u32(select(0, (xr${p} - ${lead}) / 4 + ${v}, row_ok${p} && okv${v}))], row_ok${p} && okv${v});`,
    ),
    ...(xv4 ? [] : loads).map((q) =>
      s.flat
        ? `      let x${q}${p} = x[xr${p} + ${q}u];`
        : s.x4 !== undefined
          ? `      let x${q}${p} = xv${(lead + q) >> 2}${p}[${(lead + q) & 3}];`
          : `      let x${q}${p} = select(0.0, x[u32(select(0, xr${p} + ${q}, row_ok${p} && ok${q}))], row_ok${p} && ok${q});`,
    ),
    `      let kofs${p} = ((${ci}) * ${kh}u + ${ky}) * ${kw}u;`,
    ...range(sg ? rm / sg : rm).map((i) => `      let wo${i}${p} = wr${i} + kofs${p};`),
  ];
  // A block's steps either run one after another, each tap's FMAs over all
  // accumulators (tap-major), or load every step's operands first and then give each
  // accumulator all of the block's FMAs in a row (accumulator-major): on lavapipe, where
  // the accumulators do not fit in registers, that is one load and store of each per
  // block instead of one per tap.
  const block = (steps: [string, string][], accMajor: boolean) => {
    const ps = steps.map((_, k) => (accMajor ? `_${k}` : ''));
    const body = accMajor
      ? [
          ...steps.flatMap(([ci, ky], k) => [
            ...stepLoads(ci, ky, ps[k]!),
            ...range(kw).flatMap((kx) => [...weightLoads(kx, ps[k]!), ...inputVecs(kx, ps[k]!)]),
          ]),
          ...range(rm).flatMap((i) => [
            ...ps.flatMap((p) => range(kw).flatMap((kx) => broadcast(i, kx, p))),
            ...range(rn / 4).flatMap((jj) => ps.flatMap((p) => range(kw).map((kx) => fmaLine(i, jj, kx, p)))),
          ]),
        ]
      : steps.flatMap(([ci, ky], k) => [
          ...stepLoads(ci, ky, ps[k]!),
          ...range(kw).flatMap((kx) => [
            ...tapLoads(kx, ps[k]!),
            ...range(rm).flatMap((i) => range(rn / 4).map((jj) => fmaLine(i, jj, kx, ps[k]!))),
          ]),
        ]);
    return ['    {', ...body, '    }'].join('\n');
  };
  // the steps of input channel `ci`: its filter rows (a 1x1's one)
  const rows = (ci: string) => range(kh).map((ky): [string, string] => [ci, `${ky}u`]);
  const kb = s.kblock ?? 0;
  // Loop bodies are made long enough to amortise SwiftShader's per-iteration mask work:
  // 1x1 kernels take 4 input channels per iteration, short filters all their rows.
  // With `kblock`, an iteration is one accumulator-major block of kblock channels.
  const unroll = kb || (s.flat ? 4 : 1);
  const body = (ci: (c: number) => string) =>
    kb
      ? block(range(kb).flatMap((c) => rows(ci(c))), true)
      : range(unroll)
          .flatMap((c) => (s.flat ? [rows(ci(c))] : rows(ci(c)).map((r) => [r])))
          .map((steps) => block(steps, false))
          .join('\n');
  const loops =
    kh > 3
      ? `  for (var ci = 0u; ci < params.cg; ci++) {
    for (var ky = 0u; ky < ${kh}u; ky++) {
${block([['ci', 'ky']], false)}
    }
  }`
      : unroll === 1
        ? `  for (var ci = 0u; ci < params.cg; ci++) {
${body(() => 'ci')}
  }`
        : `  var ci = 0u;
  for (; ci + ${unroll}u <= params.cg; ci += ${unroll}u) {
${body((c) => `ci + ${c}u`)}
  }
  for (; ci < params.cg; ci++) {
${block(rows('ci'), kb > 0)}
  }`;
  const out = s.vec4 ? 'vec4f' : 'f32';
  // Stores of accumulator i: one output at a time, or a vec4 at a time where rows are
  // whole vec4s (then a vec4 of a segment is wholly inside its row or wholly past it).
  // On lavapipe each is a per-lane loop, as are the mask and residual loads; vec4s
  // quarter them (1x1 layers of a ten-tangent pass ran 1.04-1.4x faster).
  const store1 = (i: number) => (j: number) =>
    `    if (ow0 + ${j}u < params.wout) { y[yo + ${j}u] = epilogue(acc${i}_${Math.floor(j / 4)}[${j % 4}] + bv${s.res ? ` + res[yo + ${j}u]` : ''}, yo + ${j}u - mofs); }`;
  const store4 = (i: number) => (jj: number) =>
    `    if (ow0 + ${4 * jj}u < params.wout) { let o = (yo + ${4 * jj}u) / 4u; y[o] = epilogue(acc${i}_${jj} + bv${s.res ? ' + res[o]' : ''}, o - mofs / 4u); }`;
  const wrows = sg
    ? range(rm / sg).map((q) => `  let wr${q} = (g * params.mg + min(m0 + ${q * sg}u + sgid, params.mg - 1u)) * params.kdim;`)
    : range(rm).map((i) => `  let wr${i} = (g * params.mg + min(m0 + ${i}u, params.mg - 1u)) * params.kdim;`);
  return wgsl`${subgroupHeader(sg)}
${DIRECT_PARAMS}
${declare(bindings, 'P')}

fn epilogue(v: ${out}, m: u32) -> ${out} {
  if (params.act == ${ConvAct.relu}u) { return max(v, ${out}(0.0)); }
  if (params.act == ${ConvAct.reluMask}u) { return select(${out}(0.0), v, mask[m] > ${out}(0.0)); }
  return v;
}

@compute @workgroup_size(${DIRECT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
${threadEntry(DIRECT_WG, sg)}
  let g = wid.y / params.m_tiles;
  let m0 = (wid.y % params.m_tiles) * ${rm}u;
  let seg = t % params.segs;
  let row = t / params.segs;
  let oh = row % params.hout;
  let b = row / params.hout;
  let ow0 = seg * ${rn}u;
  let ix0 = i32(ow0 * ${sw}u) - i32(params.pw);
  let iyb = i32(oh * params.sh) - i32(params.ph);
  let hw = params.h * params.w;
  let xbase = (b * params.cin + g * params.cg) * hw;
  // rows past the group's last channel read its last row and are never stored
${wrows.join('\n')}
${s.flat ? '' : s.x4 !== undefined ? rowVecs.map((v) => `  let okv${v} = ix0 ${shift(4 * v - lead)} >= 0 && ix0 ${shift(4 * v - lead)} < i32(params.w);`).join('\n') : loads.map((q) => `  let ok${q} = ix0 + ${q} >= 0 && ix0 + ${q} < i32(params.w);`).join('\n')}
${range(rm).flatMap((i) => range(rn / 4).map((jj) => `  var acc${i}_${jj} = vec4f(0.0);`)).join('\n')}

${loops}

  let ybase = (b * params.cout + g * params.mg) * params.hout * params.wout + oh * params.wout + ow0;
  let p_out = params.hout * params.wout;
  // the mask's entry for output o: batch entry b's is b % mb's
  let mofs = (b - b % params.mb) * params.cout * p_out;
${range(rm)
  .map((i) =>
    [
      `  if (m0 + ${i}u < params.mg${sg ? ' && live' : ''}) {`,
      `    let yo = ybase + (m0 + ${i}u) * p_out;`,
      `    let bv = select(0.0, bias[g * params.mg + m0 + ${i}u], params.has_bias != 0u);`,
      ...(s.vec4 ? range(rn / 4).map(store4(i)) : range(rn).map(store1(i))),
      '  }',
    ].join('\n'),
  )
  .join('\n')}
}`;
}

/** Compile-time shape of a depthwise kernel (one filter per channel). */
export interface DepthwiseSpec {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** thread rows and columns of a workgroup; each thread computes `rw` outputs in a row */
  tr: number;
  tc: number;
  rw: number;
}

export const DEPTHWISE_PARAMS = `struct P {
  c: u32, h: u32, w: u32, hout: u32,
  wout: u32, ph: u32, pw: u32, tiles_w: u32,
  planes: u32, has_bias: u32, _p1: u32, _p2: u32,
}`;

export function depthwiseKey(s: DepthwiseSpec): string {
  return `conv.dw:${s.kh}x${s.kw}:s${s.sh}x${s.sw}:d${s.dh}x${s.dw}:${s.tr}x${s.tc}x${s.rw}`;
}

/** Input patch a workgroup stages in shared memory: [ih, iw] floats. */
export function depthwisePatch(s: DepthwiseSpec): [number, number] {
  return [(s.tr - 1) * s.sh + (s.kh - 1) * s.dh + 1, (s.tc * s.rw - 1) * s.sw + (s.kw - 1) * s.dw + 1];
}

/** Direct depthwise convolution: a workgroup owns a TR x (TC*RW) output tile of one
 * (batch, channel) plane, stages the zero-padded input patch and the channel's filter
 * in shared memory (so the inner loops carry no bounds checks), and each thread slides
 * the filter along RW adjacent outputs of a row, reusing each loaded input row.
 * Workgroups: x over tiles of the plane, y (and z) over planes b * C + c. */
export function depthwiseKernel(s: DepthwiseSpec): string {
  const threads = s.tr * s.tc;
  const [ih, iw] = depthwisePatch(s);
  // inputs one thread reads per filter row: its RW outputs' receptive fields
  const seg = (s.rw - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  const bindings = CONV_BINDINGS;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  return wgsl`
${DEPTHWISE_PARAMS}
${declare(bindings, 'P')}
const KH = ${s.kh}u;
const KW = ${s.kw}u;
const SH = ${s.sh}u;
const SW = ${s.sw}u;
const DH = ${s.dh}u;
const DW = ${s.dw}u;
const TR = ${s.tr}u;
const TC = ${s.tc}u;
const RW = ${s.rw}u;
const IH = ${ih}u;
const IW = ${iw}u;
var<workgroup> tile: array<f32, ${ih * iw}>;
var<workgroup> filt: array<f32, ${s.kh * s.kw}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let plane = wid.z * nwg.y + wid.y;
  if (plane >= params.planes) { return; }
  let c = plane % params.c;
  let oy0 = (wid.x / params.tiles_w) * TR;
  let ox0 = (wid.x % params.tiles_w) * TC * RW;
  let iy0 = i32(oy0 * SH) - i32(params.ph);
  let ix0 = i32(ox0 * SW) - i32(params.pw);
  let xbase = plane * params.h * params.w;
  for (var e = lid; e < IH * IW; e += ${threads}u) {
    let iy = iy0 + i32(e / IW);
    let ix = ix0 + i32(e % IW);
    var v = 0.0;
    if (iy >= 0 && iy < i32(params.h) && ix >= 0 && ix < i32(params.w)) {
      v = x[xbase + u32(iy) * params.w + u32(ix)];
    }
    tile[e] = v;
  }
  for (var e = lid; e < KH * KW; e += ${threads}u) {
    filt[e] = wt[c * KH * KW + e];
  }
  workgroupBarrier();

  let ty = lid / TC;
  let tx = lid % TC;
${range(s.rw).map((r) => `  var acc${r} = 0.0;`).join('\n')}
  for (var ky = 0u; ky < KH; ky++) {
    let base = (ty * SH + ky * DH) * IW + tx * RW * SW;
${range(seg).map((q) => `    let r${q} = tile[base + ${q}u];`).join('\n')}
${range(s.kw)
  .flatMap((kx) => [
    `    let f${kx} = filt[ky * KW + ${kx}u];`,
    ...range(s.rw).map((r) => `    acc${r} = fma(r${r * s.sw + kx * s.dw}, f${kx}, acc${r});`),
  ])
  .join('\n')}
  }

  let oy = oy0 + ty;
  if (oy >= params.hout) { return; }
  let bv = select(0.0, bias[c], params.has_bias != 0u);
  let ybase = (plane * params.hout + oy) * params.wout;
${range(s.rw)
  .map((r) => `  if (ox0 + tx * RW + ${r}u < params.wout) { y[ybase + ox0 + tx * RW + ${r}u] = acc${r} + bv; }`)
  .join('\n')}
}`;
}
