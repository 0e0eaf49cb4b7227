import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { AT, declare, subgroupHeader, threadEntry } from './common.js';

/** Register tiling of one GEMM workgroup: wgX x wgY threads, each owning rm x rn outputs,
 * so a workgroup computes a (wgY rm) x (wgX rn) tile of C, walking K in steps of tk
 * through shared memory. */
export interface GemmTiling {
  wgX: number;
  wgY: number;
  /** rows per thread */
  rm: number;
  /** columns per thread */
  rn: number;
  /** depth of a shared-memory tile (multiple of 4) */
  tk: number;
}

/** A kernel's specialisation: its tiling plus the layout and epilogue flags. */
export interface GemmVariant extends GemmTiling {
  /** B is stored [N, K] (a PyTorch Linear weight) */
  transB: boolean;
  /** K % 4 == 0: A loads as vec4 along K */
  vecA: boolean;
  /** B loads as vec4 along its contiguous axis (N, or K when transB) */
  vecB: boolean;
  /** add an existing C0 (same shape as C): one term of a sum of products */
  accumulate: boolean;
}

export function gemmKey(v: GemmVariant): string {
  const flags = (['transB', 'vecA', 'vecB', 'accumulate'] as const).map((f) => (v[f] ? 1 : 0)).join('');
  return `matmul:${v.wgX}x${v.wgY}:${v.rm}x${v.rn}:${v.tk}:${flags}`;
}

/** Runtime sizes: C[z] = A[z] B[z] (+ bias, when has_bias) (+ C0[z]) for M x K times K x N, over the
 * batch index z = wid.z + batch0 unravelled along `dims` with element strides sa, sb
 * (0 on broadcast axes). rowTile0 offsets wid.y when rows need several dispatches. */
const PARAMS = `struct P {
  m: u32, n: u32, k: u32, rank: u32,
  rowTile0: u32, batch0: u32, has_bias: u32, _p1: u32,
  dims: array<vec4u, 2>, sa: array<vec4u, 2>, sb: array<vec4u, 2>,
}`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A loop spreading `count` tile loads over `threads` threads; `body(l)` handles load
 * index l. Kept a loop, not unrolled: SwiftShader's JIT needs gigabytes of memory for
 * the unrolled bounds-checked loads of a 64 x 64 tile. */
function spread(count: number, threads: number, body: (l: string) => string): string {
  return `  for (var l = lid; l < ${count}u; l += ${threads}u) {\n${body('l')}  }`;
}

/** Register-tiled GEMM. A thread owns rm consecutive rows and rn columns strided by wgX,
 * so neighbouring threads read neighbouring B values and write neighbouring C values
 * (coalesced, bank-conflict free), while the A values of a row are one broadcast to
 * the whole row of threads. Out-of-range loads read 0, so padded K terms add exactly 0
 * and no bounds checks sit in the inner loop. */
export function gemmKernel(v: GemmVariant): string {
  const { wgX, wgY, rm, rn, tk } = v;
  if (tk % 4 !== 0) throw new Error('gemm tiling: tk must be a multiple of 4');
  const threads = wgX * wgY;
  const TM = wgY * rm;
  const TN = wgX * rn;
  // one padding column keeps the transposing tile stores off a single memory bank
  const SA = tk + 1;
  const SB = TN + 1;
  if ((TM * SA + tk * SB) * 4 > 16384) throw new Error('gemm tiling: shared tiles exceed the 16 KiB WebGPU guarantees');
  const fa = v.vecA ? 'vec4f' : 'f32';
  const fb = v.vecB ? 'vec4f' : 'f32';
  const bindings = [
    { name: 'a', type: `array<${fa}>` },
    { name: 'b', type: `array<${fb}>` },
    // always bound (b stands in when there is none), read where params.has_bias is set:
    // one pipeline serves a Linear's biased primal and its bias-free tangents
    { name: 'bias' },
    ...(v.accumulate ? [{ name: 'c0' }] : []),
    { name: 'c', write: true },
  ];
  const vecStore = (tile: string, at: (q: number) => string) =>
    range(4).map((q) => `    ${tile}[${at(q)}] = x[${q}];`).join('\n');

  // A tile: TM rows x tk columns into As[r * SA + k].
  const loadA = v.vecA
    ? spread(TM * (tk / 4), threads, (l) => `
    let r = ${l} / ${tk / 4}u;
    let kq = (${l} % ${tk / 4}u) * 4u;
    let gr = row0 + r;
    var x = vec4f(0.0);
    if (gr < params.m && k0 + kq < params.k) { x = a[(offA + gr * params.k + k0 + kq) / 4u]; }
${vecStore('As', (q) => `r * ${SA}u + kq + ${q}u`)}
`)
    : spread(TM * tk, threads, (l) => `
    let r = ${l} / ${tk}u;
    let kk = ${l} % ${tk}u;
    let gr = row0 + r;
    var x = 0.0;
    if (gr < params.m && k0 + kk < params.k) { x = a[offA + gr * params.k + k0 + kk]; }
    As[r * ${SA}u + kk] = x;
`);

  // B tile: tk rows x TN columns into Bs[k * SB + n].
  let loadB: string;
  if (!v.transB && v.vecB) {
    loadB = spread(tk * (TN / 4), threads, (l) => `
    let kk = ${l} / ${TN / 4}u;
    let cq = (${l} % ${TN / 4}u) * 4u;
    var x = vec4f(0.0);
    if (k0 + kk < params.k && col0 + cq < params.n) { x = b[(offB + (k0 + kk) * params.n + col0 + cq) / 4u]; }
${vecStore('Bs', (q) => `kk * ${SB}u + cq + ${q}u`)}
`);
  } else if (!v.transB) {
    loadB = spread(tk * TN, threads, (l) => `
    let kk = ${l} / ${TN}u;
    let cc = ${l} % ${TN}u;
    var x = 0.0;
    if (k0 + kk < params.k && col0 + cc < params.n) { x = b[offB + (k0 + kk) * params.n + col0 + cc]; }
    Bs[kk * ${SB}u + cc] = x;
`);
  } else if (v.vecB) {
    loadB = spread(TN * (tk / 4), threads, (l) => `
    let cc = ${l} / ${tk / 4}u;
    let kq = (${l} % ${tk / 4}u) * 4u;
    var x = vec4f(0.0);
    if (col0 + cc < params.n && k0 + kq < params.k) { x = b[(offB + (col0 + cc) * params.k + k0 + kq) / 4u]; }
${vecStore('Bs', (q) => `(kq + ${q}u) * ${SB}u + cc`)}
`);
  } else {
    loadB = spread(TN * tk, threads, (l) => `
    let cc = ${l} / ${tk}u;
    let kk = ${l} % ${tk}u;
    var x = 0.0;
    if (col0 + cc < params.n && k0 + kk < params.k) { x = b[offB + (col0 + cc) * params.k + k0 + kk]; }
    Bs[kk * ${SB}u + cc] = x;
`);
  }

  const acc = (i: number, j: number) => `acc${i}_${j}`;
  const declAcc = range(rm)
    .map((i) => '  ' + range(rn).map((j) => `var ${acc(i, j)} = 0.0;`).join(' '))
    .join('\n');
  const inner = [
    ...range(rm).map((i) => `      let a${i} = As[(ty * ${rm}u + ${i}u) * ${SA}u + kk];`),
    ...range(rn).map((j) => `      let b${j} = Bs[kk * ${SB}u + tx + ${j * wgX}u];`),
    ...range(rm).map((i) => '      ' + range(rn).map((j) => `${acc(i, j)} = fma(a${i}, b${j}, ${acc(i, j)});`).join(' ')),
  ].join('\n');

  const store = range(rm)
    .map((i) => {
      const cols = range(rn).map((j) => {
        const col = `col0 + tx + ${j * wgX}u`;
        const bias = ` + select(0.0, bias[${col}], params.has_bias != 0u)`;
        const c0 = v.accumulate ? ` + c0[offC + gr * params.n + ${col}]` : '';
        return `      if (${col} < params.n) { c[offC + gr * params.n + ${col}] = ${acc(i, j)}${bias}${c0}; }`;
      });
      return `    {\n      let gr = row0 + ty * ${rm}u + ${i}u;\n      if (gr < params.m) {\n${cols.join('\n')}\n      }\n    }`;
    })
    .join('\n');

  return wgsl`
${PARAMS}
${declare(bindings, 'P')}
${AT}
var<workgroup> As: array<f32, ${TM * SA}>;
var<workgroup> Bs: array<f32, ${tk * SB}>;

@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let tx = tid.x;
  let ty = tid.y;
  let row0 = (wid.y + params.rowTile0) * ${TM}u;
  let col0 = wid.x * ${TN}u;
  let z = wid.z + params.batch0;
  var offA = 0u;
  var offB = 0u;
  var rem = z;
  for (var d = params.rank; d > 0u; d--) {
    let size = at(params.dims, d - 1u);
    let i = rem % size;
    rem = rem / size;
    offA += i * at(params.sa, d - 1u);
    offB += i * at(params.sb, d - 1u);
  }
  let offC = z * params.m * params.n;
${declAcc}
  for (var k0 = 0u; k0 < params.k; k0 += ${tk}u) {
${loadA}
${loadB}
    workgroupBarrier();
    for (var kk = 0u; kk < ${tk}u; kk++) {
${inner}
    }
    workgroupBarrier();
  }
${store}
}`;
}

/** Per-thread block of the barrier-free GEMM for CPU adapters. */
export interface DirectGemmTiling {
  /** rows of C per thread: their A values differ per lane */
  rm: number;
  /** columns of C per thread (a multiple of 4): their B values are the same in every
   * lane of a workgroup */
  rn: number;
  /** with transB and vecK: lane l of each subgroup loads B's column n0 + l (and
   * n0 + l + size, ...) and broadcasts it, so a step loads rn / size B values per lane
   * instead of rn (lavapipe: 1.4-2.5x on ViT's and Mixer's Linear shapes). Needs the
   * adapter's fixed subgroup size, dividing rn; without one, or for a B that differs
   * along the batch, the plain kernel runs. */
  subgroups?: boolean;
  /** with vecK: a step's B values for all four k are loaded first, then each
   * accumulator takes its four FMAs in a row (accumulator-major, as the convolutions'
   * `kblock`): where lavapipe keeps the accumulators in stack memory, one load and
   * store of each per step instead of four. Without vecK the order is the same. */
  accMajor?: boolean;
}

export interface DirectGemmVariant extends DirectGemmTiling {
  transB: boolean;
  /** K % 4 == 0: A rows (and B's rows when transB) load as vec4 along K */
  vecK: boolean;
  /** !transB and N % 4 == 0: B's rows load as vec4 along N */
  vecN: boolean;
  accumulate: boolean;
  /** the subgroup size broadcasts assume (`subgroups`), or 0 */
  sg: number;
}

export const DIRECT_GEMM_WG = 64;

/** Runtime sizes of the direct kernel: C[z] = A[z] B[z] as for the tiled one, with
 * `threads` = batch entries x row_blocks. */
const DIRECT_GEMM_PARAMS = `struct P {
  m: u32, n: u32, k: u32, rank: u32,
  threads: u32, row_blocks: u32, has_bias: u32, _p1: u32,
  dims: array<vec4u, 2>, sa: array<vec4u, 2>, sb: array<vec4u, 2>,
}`;

export function directGemmKey(v: DirectGemmVariant): string {
  const flags = (['transB', 'vecK', 'vecN', 'accumulate'] as const).map((f) => (v[f] ? 1 : 0)).join('');
  return `matmul.direct:${v.rm}x${v.rn}:${flags}${v.sg ? `:sg${v.sg}` : ''}${v.accMajor && v.vecK ? ':am' : ''}`;
}

/** GEMM without shared memory or barriers, for CPU drivers, where workgroup memory is
 * ordinary memory, a barrier switches coroutines and every per-lane load is a gather:
 * there the count of loads per FMA decides (the conv kernels' direct path, for GEMM).
 * A thread owns RM rows times RN columns of C; the 64 threads of a workgroup own
 * consecutive row blocks of the same columns, so B's loads are one address for the
 * whole workgroup and only RM A values per k differ per lane. Per step of 4 along K
 * (vecK) a thread loads RM + RN vec4s for 4 RM RN FMAs. Rows and columns past the end
 * read the last one (clamped) and are never stored. Threads run over (batch entry, row
 * block) pairs, so many small products (attention's per-head scores) fill every lane;
 * workgroups: x (and z, past 65535) over those threads, y over column blocks. */
export function directGemmKernel(v: DirectGemmVariant): string {
  const { rm, rn } = v;
  if (rn % 4 !== 0 || rm < 1) throw new Error(`gemm: invalid direct tiling ${directGemmKey(v)}`);
  const vecB = v.transB ? v.vecK : v.vecN;
  const bindings = [
    { name: 'a', type: `array<${v.vecK ? 'vec4f' : 'f32'}>` },
    { name: 'b', type: `array<${vecB ? 'vec4f' : 'f32'}>` },
    { name: 'bias' },
    ...(v.accumulate ? [{ name: 'c0' }] : []),
    { name: 'c', write: true },
  ];
  const rn4 = rn / 4;
  const qs = v.vecK ? range(4) : [0];
  const comp = (e: string, q: number) => (v.vecK ? `${e}[${q}]` : e);
  const kStep = v.vecK ? 4 : 1;
  // element index of A's row i at k: ar_i + kk (vec4 index: / 4)
  const aLoad = (i: number) => `      let a${i} = a[${v.vecK ? `(ar${i} + kk) / 4u` : `ar${i} + kk`}];`;
  let bLoads: string[];
  let bVec: (q: number, jj: number) => string;
  const sg = v.transB && v.vecK ? v.sg : 0;
  if (sg && rn % sg !== 0) throw new Error(`gemm: ${rn} columns per thread do not split over subgroups of ${sg}`);
  if (sg) {
    bLoads = [
      ...range(rn / sg).map((g) => `      let bl${g} = b[(bs${g} + kk) / 4u];`),
      ...range(rn).map((j) => `      let b${j} = subgroupBroadcast(bl${Math.floor(j / sg)}, ${j % sg}u);`),
    ];
    bVec = (q, jj) => `vec4f(${range(4).map((c) => comp(`b${4 * jj + c}`, q)).join(', ')})`;
  } else if (v.transB) {
    // B [N, K]: column j's values along K are contiguous
    bLoads = range(rn).map((j) => `      let b${j} = b[${v.vecK ? `(bc${j} + kk) / 4u` : `bc${j} + kk`}];`);
    bVec = (q, jj) => `vec4f(${range(4).map((c) => comp(`b${4 * jj + c}`, q)).join(', ')})`;
  } else if (v.vecN) {
    // B [K, N] with N % 4 == 0: four columns are one vec4 of row kk + q
    bLoads = [];
    bVec = (q, jj) => `b[(offB + (kk + ${q}u) * params.n) / 4u + bq${jj}]`;
  } else {
    bLoads = [];
    bVec = (q, jj) => `vec4f(${range(4).map((c) => `b[offB + (kk + ${q}u) * params.n + bc${4 * jj + c}]`).join(', ')})`;
  }
  const bRow = (q: number) => range(rn4).map((jj) => `      let bv${q}_${jj} = ${bVec(q, jj)};`);
  const fmaLine = (i: number, jj: number, q: number) => `      acc${i}_${jj} = fma(vec4f(${comp(`a${i}`, q)}), bv${q}_${jj}, acc${i}_${jj});`;
  const step = [
    ...range(rm).map(aLoad),
    ...bLoads,
    ...(v.accMajor && v.vecK
      ? [...qs.flatMap(bRow), ...range(rm).flatMap((i) => range(rn4).flatMap((jj) => qs.map((q) => fmaLine(i, jj, q))))]
      : qs.flatMap((q) => [...bRow(q), ...range(rm).flatMap((i) => range(rn4).map((jj) => fmaLine(i, jj, q)))])),
  ].join('\n');
  const colBases = sg
    ? range(rn / sg).map((g) => `  let bs${g} = offB + min(n0 + ${g * sg}u + sgid, params.n - 1u) * params.k;`)
    : v.transB
    ? range(rn).map((j) => `  let bc${j} = offB + min(n0 + ${j}u, params.n - 1u) * params.k;`)
    : v.vecN
      ? range(rn4).map((jj) => `  let bq${jj} = min(n0 + ${4 * jj}u, params.n - 4u) / 4u;`)
      : range(rn).map((j) => `  let bc${j} = min(n0 + ${j}u, params.n - 1u);`);
  const store = range(rm)
    .map((i) => {
      const cols = range(rn).map((j) => {
        const col = `n0 + ${j}u`;
        const bias = ` + select(0.0, bias[${col}], params.has_bias != 0u)`;
        const c0 = v.accumulate ? ` + c0[offC + gr * params.n + ${col}]` : '';
        return `      if (${col} < params.n) { c[offC + gr * params.n + ${col}] = acc${i}_${Math.floor(j / 4)}[${j % 4}]${bias}${c0}; }`;
      });
      return `  {\n    let gr = m0 + ${i}u;\n    if (gr < params.m${sg ? ' && live' : ''}) {\n${cols.join('\n')}\n    }\n  }`;
    })
    .join('\n');
  return wgsl`${subgroupHeader(sg)}
${DIRECT_GEMM_PARAMS}
${declare(bindings, 'P')}
${AT}

@compute @workgroup_size(${DIRECT_GEMM_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
${threadEntry(DIRECT_GEMM_WG, sg)}
  let z = t / params.row_blocks;
  let m0 = (t % params.row_blocks) * ${rm}u;
  let n0 = wid.y * ${rn}u;
  var offA = 0u;
  var offB = 0u;
  var rem = z;
  for (var d = params.rank; d > 0u; d--) {
    let size = at(params.dims, d - 1u);
    let i = rem % size;
    rem = rem / size;
    offA += i * at(params.sa, d - 1u);
    offB += i * at(params.sb, d - 1u);
  }
  let offC = z * params.m * params.n;
${range(rm).map((i) => `  let ar${i} = offA + min(m0 + ${i}u, params.m - 1u) * params.k;`).join('\n')}
${colBases.join('\n')}
${range(rm).flatMap((i) => range(rn4).map((jj) => `  var acc${i}_${jj} = vec4f(0.0);`)).join('\n')}
  for (var kk = 0u; kk < params.k; kk += ${kStep}u) {
${step}
  }
${store}
}`;
}
