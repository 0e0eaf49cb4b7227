import { runtime } from '../runtime.js';
import type { AdapterProfile } from '../adapter.js';
import { Tensor, numel, type Shape } from '../tensor.js';
import { tangentCount, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import type { PrimitiveTable } from '../primitives.js';
import { MAX_RANK, UniformWriter, gridFor } from '../../shaders/common.js';
import { DIRECT_GEMM_WG, directGemmKernel, directGemmKey, gemmKernel, gemmKey, type DirectGemmTiling, type GemmTiling, type GemmVariant } from '../../shaders/matmul.js';
import { add, broadcastShapes, broadcastStrides } from './elementwise.js';

export interface MatmulOptions {
  /** b is stored [..., N, K] and used transposed (PyTorch's Linear weight layout) */
  transB?: boolean;
  /** overrides the adapter's choice with the shared-memory kernel at this tiling: for
   * tuning, and for testing every tiling anywhere */
  tiling?: GemmTiling;
  /** overrides it with the barrier-free kernel at this tiling */
  direct?: DirectGemmTiling;
}

export interface MatmulParams {
  /** operands [a, b, bias | null]: a [..., M, K] @ b [..., K, N] (+ bias [N]) */
  matmul: MatmulOptions;
}

/** Shared-memory register tilings for GPUs (H200, Vulkan): 128 x 128 tiles won by up
 * to 2.4x once there were enough of them to fill the device, and 64 x 64 tiles of 4 x 4
 * below that. */
export const GEMM_TILINGS = {
  gpuLarge: { wgX: 16, wgY: 16, rm: 8, rn: 8, tk: 8 },
  gpuSmall: { wgX: 16, wgY: 16, rm: 4, rn: 4, tk: 16 },
} satisfies Record<string, GemmTiling>;

/** Workgroups of 128 x 128 from which a GPU is busy enough for the large tiling. */
const LARGE_TILES_FROM = 256;

/** CPU drivers run the barrier-free kernel. 16 x 16 outputs per thread measured fastest
 * of 1x64 ... 32x16 on both: ViT-B's Linear shapes ran at 10-11 GFLOP/s on lavapipe
 * (the tiled kernel: 5.6) and 3-3.6 on SwiftShader (1.8), Mixer-S's small-K token
 * mixing 4-10x faster. On lavapipe a Linear (B^T, K % 4 == 0) shares B's loads over
 * subgroups of 8 at 8 x 16 per thread: 13-19 GFLOP/s on ViT-B's shapes, 9-14 on
 * Mixer-B's; SwiftShader's subgroups of 4 gained nothing. Fewer rows than a block take
 * the next power of two.
 *
 * Where B is one Linear's weight (not compact), lavapipe orders each step's FMAs
 * accumulator-major (`accMajor`): 1.1-1.4x on ViT-B's and Mixer-B's Linear shapes at
 * batch 1 and 7 (CPU time, interleaved runs), nothing on per-head products.
 *
 * A 16 x 16 tile takes SwiftShader 1.2-2.4 s to compile and lavapipe 7-12 s; 8 x 8 takes
 * 0.2-0.5 s and 1.3-2.6 s. Small products take it (`compactGemm`), where a typical run
 * gains less from the large tile than compiling it costs: on a 32 px ViT's shapes 8 x 8
 * ran at 0.7-1.4x the large tile's speed on SwiftShader, and 2.6x on lavapipe's
 * per-head products of 17 tokens. */
export function directGemmTiling(
  profile: Pick<AdapterProfile, 'kind' | 'software' | 'subgroupSize'>,
  p: Pick<Plan, 'm' | 'n' | 'k' | 'dims'>,
  transB: boolean,
): DirectGemmTiling | undefined {
  if (!profile.software) return undefined;
  const subgroups = profile.kind === 'llvmpipe' && profile.subgroupSize === 8 && transB && p.k % 4 === 0;
  const compact = compactGemm(p);
  const block = subgroups || compact ? 8 : 16;
  const rm = p.m >= block ? block : 2 ** Math.ceil(Math.log2(Math.max(1, p.m)));
  // a Linear's shared weight (see above)
  const accMajor = subgroups && !compact && p.dims.length === 0;
  return { rm, rn: compact ? 8 : 16, ...(subgroups ? { subgroups } : {}), ...(accMajor ? { accMajor } : {}) };
}

/** FLOPs per row of C (a B shared by the batch: a Linear's weight) and per product (a
 * batch of different Bs: attention's per-head products) below which a product is small:
 * a 32 px ViT's Linear layers and heads are, ViT-B's (1.2M per row, 5M per head) and
 * Mixer-B's are not. */
export const COMPACT_GEMM_ROW_BELOW = 2 ** 16;
export const COMPACT_GEMM_PRODUCT_BELOW = 2 ** 20;

function compactGemm(p: Pick<Plan, 'm' | 'n' | 'k' | 'dims'>): boolean {
  const row = 2 * p.n * p.k;
  return p.dims.length === 0 ? row < COMPACT_GEMM_ROW_BELOW : row * p.m < COMPACT_GEMM_PRODUCT_BELOW;
}

function tilingFor(p: Plan): GemmTiling {
  const large = Math.ceil(p.m / 128) * Math.ceil(p.n / 128) * numel(p.dims);
  return large >= LARGE_TILES_FROM ? GEMM_TILINGS.gpuLarge : GEMM_TILINGS.gpuSmall;
}

const MAX_GROUPS = 65535;

/** Sizes of one batched product, after broadcasting the batch axes. */
interface Plan {
  m: number;
  n: number;
  k: number;
  /** output shape [...batch, M, N] */
  shape: number[];
  /** batch axes the kernel walks (size-1 axes dropped), with element strides of a and b */
  dims: number[];
  sa: number[];
  sb: number[];
}

function plan(a: Shape, b: Shape, transB: boolean, bias: Shape | null): Plan {
  const show = (s: Shape) => `[${s.join(', ')}]`;
  if (a.length < 2 || b.length < 2) {
    throw new Error(`matmul: operands need rank >= 2, got ${show(a)} and ${show(b)}`);
  }
  const m = a[a.length - 2]!;
  const k = a[a.length - 1]!;
  const kb = b[b.length - (transB ? 1 : 2)]!;
  const n = b[b.length - (transB ? 2 : 1)]!;
  if (k !== kb) {
    const what = transB ? `${show(a)} @ ${show(b)}^T` : `${show(a)} @ ${show(b)}`;
    throw new Error(`matmul: inner dimensions differ in ${what} (${k} vs ${kb})`);
  }
  if (bias && !(bias.length === 1 && bias[0] === n)) {
    throw new Error(`matmul: bias ${show(bias)} must have shape [${n}]`);
  }
  const batchA = a.slice(0, -2);
  const batchB = b.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes(batchA, batchB);
  } catch {
    throw new Error(`matmul: batch dimensions of ${show(a)} and ${show(b)} do not broadcast`);
  }
  const shape = [...batch, m, n];
  const sa = broadcastStrides(batchA, batch).map((s) => s * m * k);
  const sb = broadcastStrides(batchB, batch).map((s) => s * k * n);
  const keep = batch.map((d) => d !== 1);
  const dims = batch.filter((_, i) => keep[i]);
  if (dims.length > MAX_RANK) throw new Error(`matmul: at most ${MAX_RANK} batch axes of size > 1`);
  // When B is shared by the whole batch and A is not broadcast, A's batch axes are just
  // more rows: one dispatch streams every row tile past the same B.
  if (sb.every((s, i) => s === 0 || !keep[i]) && numel(batchA) === numel(batch)) {
    return { m: m * numel(batch), n, k, shape, dims: [], sa: [], sb: [] };
  }
  return { m, n, k, shape, dims, sa: sa.filter((_, i) => keep[i]), sb: sb.filter((_, i) => keep[i]) };
}

/** C = A B (+ bias) (+ c0) as dispatches of the adapter's kernel; c0 has C's shape. */
function gemm(o: MatmulOptions, a: Tensor, b: Tensor, bias: Tensor | null, c0: Tensor | null): Tensor {
  const transB = !!o.transB;
  const p = plan(a.shape, b.shape, transB, bias?.shape ?? null);
  if (c0 && c0.size !== numel(p.shape)) throw new Error('matmul: accumulator shape mismatch');
  const c = Tensor.empty(p.shape);
  if (c.size === 0) return c;
  const direct = o.direct ?? (o.tiling ? undefined : directGemmTiling(runtime().profile, p, transB));
  if (direct) directGemm(direct, transB, p, a, b, bias, c0, c);
  else tiledGemm(o.tiling ?? tilingFor(p), transB, p, a, b, bias, c0, c);
  return c;
}

function directGemm(t: DirectGemmTiling, transB: boolean, p: Plan, a: Tensor, b: Tensor, bias: Tensor | null, c0: Tensor | null, c: Tensor): void {
  const vecK = p.k % 4 === 0;
  let sg = 0;
  // a broadcast hands B's values to every lane of a subgroup, whose lanes may be in
  // different batch entries: only a B shared by the whole batch qualifies, and only
  // where the adapter's fixed subgroup size divides the thread's columns (else the
  // plain direct kernel runs)
  const size = runtime().profile.subgroupSize;
  if (t.subgroups && transB && vecK && p.sb.every((s) => s === 0) && size > 0 && t.rn % size === 0) sg = size;
  const variant = { rm: t.rm, rn: t.rn, transB, vecK, vecN: !transB && p.n % 4 === 0, accumulate: c0 !== null, sg, ...(t.accMajor ? { accMajor: true } : {}) };
  const rowBlocks = Math.ceil(p.m / t.rm);
  const threads = numel(p.dims) * rowBlocks;
  const colTiles = Math.ceil(p.n / t.rn);
  if (colTiles > MAX_GROUPS) throw new Error(`matmul: N = ${p.n} is too large for one dispatch`);
  if (threads >= 2 ** 32) throw new Error(`matmul: ${threads} row blocks are too many for one dispatch`);
  const [x, z] = gridFor(Math.ceil(threads / DIRECT_GEMM_WG));
  runtime().dispatch({
    key: directGemmKey(variant),
    source: () => directGemmKernel(variant),
    inputs: [a.buffer, b.buffer, (bias ?? b).buffer, ...(c0 ? [c0.buffer] : [])],
    outputs: [c.buffer],
    uniform: new UniformWriter()
      .u32(p.m, p.n, p.k, p.dims.length, threads, rowBlocks, bias ? 1 : 0, 0)
      .array(p.dims)
      .array(p.sa)
      .array(p.sb)
      .finish(),
    workgroups: [x, colTiles, z],
  });
}

function tiledGemm(tiling: GemmTiling, transB: boolean, p: Plan, a: Tensor, b: Tensor, bias: Tensor | null, c0: Tensor | null, c: Tensor): void {
  const batches = numel(p.dims);
  const variant: GemmVariant = {
    ...tiling,
    transB,
    vecA: p.k % 4 === 0,
    vecB: (transB ? p.k : p.n) % 4 === 0,
    accumulate: c0 !== null,
  };
  const tileM = tiling.wgY * tiling.rm;
  const tileN = tiling.wgX * tiling.rn;
  const colTiles = Math.ceil(p.n / tileN);
  const rowTiles = Math.ceil(p.m / tileM);
  if (colTiles > MAX_GROUPS) throw new Error(`matmul: N = ${p.n} is too large for one dispatch`);
  const key = gemmKey(variant);
  const inputs = [a.buffer, b.buffer, (bias ?? b).buffer, ...(c0 ? [c0.buffer] : [])];
  for (let z0 = 0; z0 < batches; z0 += MAX_GROUPS) {
    for (let y0 = 0; y0 < rowTiles; y0 += MAX_GROUPS) {
      runtime().dispatch({
        key,
        source: () => gemmKernel(variant),
        inputs,
        outputs: [c.buffer],
        uniform: new UniformWriter()
          .u32(p.m, p.n, p.k, p.dims.length, y0, z0, bias ? 1 : 0, 0)
          .array(p.dims)
          .array(p.sa)
          .array(p.sb)
          .finish(),
        workgroups: [colTiles, Math.min(MAX_GROUPS, rowTiles - y0), Math.min(MAX_GROUPS, batches - z0)],
      });
    }
  }
}

/** A tangent [K, ...shape] viewed as a batched operand of rank `rank` + 1, its K axis
 * leading the broadcast batch axes: [K, 1, ..., 1, ...shape]. */
function lift(t: Tensor, rank: number): Tensor {
  const shape = t.shape.slice(1);
  return t.reshape([t.shape[0]!, ...new Array<number>(rank - shape.length).fill(1), ...shape]);
}

export const matmulPrims: PrimitiveTable<MatmulParams> = {
  matmul: {
    impl: (p, [a, b, bias]) => gemm(p, a!, b!, bias ?? null, null),
    // d(a b + c) = da b + a db + dc; a constant b takes every tangent of a in one
    // dispatch (K folded into the rows), and the bias drops out
    jvp(p, [a, b, bias], [ta, tb, tbias]) {
      const primal = gemm(p, a!, b!, bias ?? null, null);
      const k = tangentCount([ta ?? null, tb ?? null, tbias ?? null]);
      const rank = primal.rank;
      let t: Tensor | null = null;
      if (ta) {
        const la = lift(ta, rank);
        t = gemm(p, la, b!, null, null);
        la.dispose();
      }
      if (tb) {
        const lb = lift(tb, rank);
        const sum = gemm(p, a!, lb, null, t);
        lb.dispose();
        t?.dispose();
        t = sum;
      }
      if (tbias) {
        // weights are usually constants, so this composed path is a cold one
        const base = t ?? Tensor.fromData(new Float32Array(k * primal.size), [k, ...primal.shape]);
        const db = lift(tbias, rank);
        const sum = add(base, db).primal;
        db.dispose();
        base.dispose();
        t = sum;
      }
      // t is [K, ...primal.shape]: the lifted K axis leads the output's batch axes
      return { primal, tangents: t! };
    },
  },
};

/** a [..., M, K] @ b [..., K, N] on plain tensors, batch axes broadcast numpy-style
 * (a batch-1 or lower-rank operand is read in place, never copied). */
export function matmulTensor(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return gemm(opts, a, b, null, null);
}

/** Batched matrix product with broadcasting: [..., M, K] @ [..., K, N] -> [..., M, N]
 * (b as [..., N, K] with `transB`). */
export function matmul(a: Operand, b: Operand, opts: MatmulOptions = {}): Dual {
  return bind('matmul', opts, [a, b, null]);
}

/** PyTorch's nn.Linear: y = x W^T + b over the last axis of x (rank >= 2), with weight
 * [out, in] and bias [out]; the bias is added in the kernel's epilogue. */
export function linear(x: Operand, weight: Operand, bias: Operand | null = null): Dual {
  const xs = (x instanceof Tensor ? x : x.primal).shape;
  const ws = (weight instanceof Tensor ? weight : weight.primal).shape;
  if (ws.length !== 2) throw new Error(`linear: weight must be [out, in], got [${ws.join(', ')}]`);
  if (xs.length < 2 || xs[xs.length - 1] !== ws[1]) {
    throw new Error(`linear: input [${xs.join(', ')}] does not end in the weight's in-features ${ws[1]} (rank >= 2 needed)`);
  }
  return bind('matmul', { transB: true }, [x, weight, bias]);
}
