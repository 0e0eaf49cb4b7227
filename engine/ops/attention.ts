import { runtime } from '../runtime.js';
import { Tensor, type Shape } from '../tensor.js';
import { primalOf, tangentCount, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import type { PrimitiveTable } from '../primitives.js';
import { UniformWriter, gridFor } from '../../shaders/common.js';
import { attentionKernel, attentionKey, attentionWordsPerKey, type AttentionConfig } from '../../shaders/attention.js';
import { matmul } from './matmul.js';
import { softmax } from './reduce.js';
import { scale as scaleBy } from './elementwise.js';
import { narrow, permute, reshape } from './layout.js';

export interface AttentionParams {
  /** operands [q, k, v]: q [..., N, D], k [..., M, D], v [..., M, Dv] -> [..., N, Dv] */
  attention: { scale: number };
  /** operand [qkv]: [B, N, 3 H d] split as timm does (reshape [B, N, 3, H, d], permute
   * (2, 0, 3, 1, 4)) -> heads merged back, [B, N, H d] */
  qkvAttention: { heads: number; scale: number };
}

/** Workgroup memory for the key tiles: WebGPU's guaranteed minimum, so every adapter
 * (and every browser) runs the same kernel. */
const TILE_WORDS = 16384 / 4;
const MAX_TILE_KEYS = 32;
/** Tangent directions per dispatch: each keeps Dv + 2 running values per thread, so
 * larger K runs as several dispatches that each recompute the (cheap) softmax stats.
 * At head dim 64 on an H200, 5 slots spilled registers and ran K = 10 3.7x slower
 * than 4 (9.2 vs 2.5 ms for ViT-B's attention); on CPU drivers the extra dispatch
 * costs one more forward (about 5 % at K = 10). */
export const ATTENTION_TANGENT_CHUNK = 4;

/** Where row r of (batch b, head h) starts: base + b sb + h sh + r sn. */
type Layout = [base: number, sb: number, sh: number, sn: number];

/** One fused call: sizes, and the layout of each operand in its buffer. */
interface Geometry {
  n: number;
  m: number;
  d: number;
  dv: number;
  batch: number;
  heads: number;
  q: Layout;
  k: Layout;
  v: Layout;
  o: Layout;
  /** element counts of the q, k, v and output tensors: the stride of a tangent slot */
  sizes: [number, number, number, number];
  outShape: number[];
}

const show = (s: Shape) => `[${s.join(', ')}]`;

function checkSizes(g: Pick<Geometry, 'n' | 'm' | 'd' | 'dv'>, what: string): void {
  if (g.m === 0 && g.n > 0) throw new Error(`attention: no keys to attend to: ${what}`);
  if (g.d === 0 || g.dv === 0) throw new Error(`attention: empty head dim: ${what}`);
}

/** Separate contiguous q [..., N, D], k [..., M, D], v [..., M, Dv]: all leading axes
 * are one batch axis of (batch, head) pairs. */
function separateGeometry(q: Shape, k: Shape, v: Shape): Geometry {
  const what = `q ${show(q)}, k ${show(k)}, v ${show(v)}`;
  if (q.length < 2 || k.length !== q.length || v.length !== q.length) {
    throw new Error(`attention: q, k, v need the same rank >= 2 ([..., N, D]); got ${what}`);
  }
  const r = q.length;
  const lead = q.slice(0, r - 2);
  if (lead.some((dim, i) => dim !== k[i] || dim !== v[i])) {
    throw new Error(`attention: leading (batch, head) axes differ: ${what}`);
  }
  const [n, d] = [q[r - 2]!, q[r - 1]!];
  const [m, dk] = [k[r - 2]!, k[r - 1]!];
  const [mv, dv] = [v[r - 2]!, v[r - 1]!];
  if (dk !== d) throw new Error(`attention: q and k head dims differ: ${what}`);
  if (mv !== m) throw new Error(`attention: k and v have different numbers of keys: ${what}`);
  checkSizes({ n, m, d, dv }, what);
  const batch = lead.reduce((a, b) => a * b, 1);
  return {
    n,
    m,
    d,
    dv,
    batch,
    heads: 1,
    q: [0, n * d, 0, d],
    k: [0, m * d, 0, d],
    v: [0, m * dv, 0, dv],
    o: [0, n * dv, 0, dv],
    sizes: [batch * n * d, batch * m * d, batch * m * dv, batch * n * dv],
    outShape: [...lead, n, dv],
  };
}

/** timm's packed qkv [B, N, 3 H d]: feature s H d + h d + c is element c of head h of
 * q, k, v (s = 0, 1, 2); the output is written with heads merged, [B, N, H d]. */
function packedGeometry(qkv: Shape, heads: number): Geometry {
  const what = `qkv ${show(qkv)} with ${heads} heads`;
  if (qkv.length !== 3) throw new Error(`qkvAttention: qkv must be [B, N, 3 heads head_dim]; got ${show(qkv)}`);
  const [batch, n, c] = qkv as [number, number, number];
  if (!Number.isInteger(heads) || heads < 1 || c % (3 * heads) !== 0) {
    throw new Error(`qkvAttention: ${what}: the features do not split into 3 x heads x head_dim`);
  }
  const d = c / (3 * heads);
  const dim = heads * d;
  checkSizes({ n, m: n, d, dv: d }, what);
  const row = (s: number): Layout => [s * dim, n * c, d, c];
  return {
    n,
    m: n,
    d,
    dv: d,
    batch,
    heads,
    q: row(0),
    k: row(1),
    v: row(2),
    o: [0, n * dim, d, dim],
    sizes: [batch * n * c, batch * n * c, batch * n * c, batch * n * dim],
    outShape: [batch, n, dim],
  };
}

/** Query rows per workgroup: enough for the sequence, at most 64 (a thread per row). */
function rowsPerGroup(n: number): number {
  let bq = 16;
  while (bq < 64 && bq < n) bq *= 2;
  return bq;
}

/** Value and, when any tangent is given, all K tangents of the output, fused. q, k, v
 * (and tq, tk, tv) may be one buffer read through three layouts. */
function fused(g: Geometry, scale: number, q: Tensor, k: Tensor, v: Tensor, tq: Tensor | null, tk: Tensor | null, tv: Tensor | null): Dual {
  const K = tangentCount([tq, tk, tv]);
  const tangents = K > 0;
  const o = Tensor.empty(g.outShape);
  const to = tangents ? Tensor.empty([K, ...g.outShape]) : null;
  const pairs = g.batch * g.heads;
  if (g.n === 0 || pairs === 0) return { primal: o, tangents: to };
  // balanced chunks (K = 10 runs as 4 + 3 + 3): one pipeline for every chunk
  const chunks = Math.ceil(K / ATTENTION_TANGENT_CHUNK);
  const kc = chunks > 0 ? Math.ceil(K / chunks) : 0;
  const base = { d: g.d, dv: g.dv, kc, tq: !!tq && tangents, tk: !!tk && tangents, tv: !!tv && tangents };
  // not shrunk to short sequences: one pipeline serves every length
  const bk = Math.min(MAX_TILE_KEYS, Math.floor(TILE_WORDS / attentionWordsPerKey(base)));
  if (bk < 1) throw new Error(`attention: head dims ${g.d}/${g.dv} are too large for a key tile in 16 KiB of workgroup memory`);
  const cfg: AttentionConfig = { ...base, bq: rowsPerGroup(g.n), bk };
  const qblocks = Math.ceil(g.n / cfg.bq);
  const inputs = [q, k, v, cfg.tq ? tq : null, cfg.tk ? tk : null, cfg.tv ? tv : null]
    .filter((t): t is Tensor => t !== null)
    .map((t) => t.buffer);
  for (let c = 0; c < Math.max(chunks, 1); c++) {
    const k0 = c * kc;
    runtime().dispatch({
      key: attentionKey(cfg),
      source: () => attentionKernel(cfg),
      inputs,
      outputs: to ? [o.buffer, to.buffer] : [o.buffer],
      uniform: new UniformWriter()
        .u32(g.n, g.m, pairs, g.heads, qblocks, k0, Math.min(kc, K - k0), c === 0 ? 1 : 0)
        .f32(scale)
        .u32(0, 0, 0, ...g.q, ...g.k, ...g.v, ...g.o, ...g.sizes)
        .finish(),
      workgroups: gridFor(pairs * qblocks),
    });
  }
  return { primal: o, tangents: to };
}

// s = scale q k^T, p = softmax(s): ds = scale (dq k^T + q dk^T),
// d(p v) = (p * (ds - sum_j p ds)) v + p dv, accumulated online with the value
export const attentionPrims: PrimitiveTable<AttentionParams> = {
  attention: {
    impl: (p, [q, k, v]) => fused(separateGeometry(q!.shape, k!.shape, v!.shape), p.scale, q!, k!, v!, null, null, null).primal,
    jvp: (p, [q, k, v], [tq, tk, tv]) =>
      fused(separateGeometry(q!.shape, k!.shape, v!.shape), p.scale, q!, k!, v!, tq ?? null, tk ?? null, tv ?? null),
  },
  qkvAttention: {
    impl: (p, [x]) => fused(packedGeometry(x!.shape, p.heads), p.scale, x!, x!, x!, null, null, null).primal,
    // the same rule, with dq, dk, dv read out of the one tangent of qkv
    jvp: (p, [x], [tx]) => fused(packedGeometry(x!.shape, p.heads), p.scale, x!, x!, x!, tx!, tx!, tx!),
  },
};

export interface AttentionOptions {
  /** multiplies q k^T before the softmax; default 1 / sqrt(head dim) */
  scale?: number;
  /** `fused`: one kernel for the value and every tangent, scores never stored (GPUs);
   * `composed`: scale q, q k^T, softmax, times v, each op with its own JVP rule (CPU
   * drivers, where the fused kernel's shared tiles and barriers ran ViT-B's attention
   * tangents at 1.5 GFLOP/s and the barrier-free GEMM runs at about 10). Default: by
   * adapter, fused wherever the scores of every tangent would not fit in a quarter of
   * a storage binding. */
  kernel?: 'fused' | 'composed';
}

/** Whether the scores [1 + K, pairs, N, M] of a composed attention fit comfortably. */
function composedFits(pairs: number, n: number, m: number, k: number): boolean {
  const rt = runtime();
  return (1 + k) * pairs * n * m * 4 <= rt.device.limits.maxStorageBufferBindingSize / 4;
}

function useComposed(kernel: AttentionOptions['kernel'], g: Geometry, operands: readonly Operand[]): boolean {
  if (kernel) return kernel === 'composed';
  const k = tangentCount(operands.map((o) => (o instanceof Tensor ? null : o.tangents)));
  return runtime().profile.software && composedFits(g.batch * g.heads, g.n, g.m, k);
}

/** softmax(scale q k^T) v from the differentiable ops (batched over the leading axes). */
function composed(q: Operand, k: Operand, v: Operand, scale: number): Dual {
  return matmul(softmax(matmul(scaleBy(q, scale), k, { transB: true }), -1), v);
}

function checkScale(scale: number): number {
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be finite, got ${scale}`);
  return scale;
}

/** Scaled dot-product attention softmax(scale q k^T) v over the last two axes of
 * q [..., N, D], k [..., M, D], v [..., M, Dv] (leading axes: batch, heads), fused into
 * one kernel for the value and all tangents of q, k and v. */
export function attention(q: Operand, k: Operand, v: Operand, options: AttentionOptions = {}): Dual {
  const g = separateGeometry(primalOf(q).shape, primalOf(k).shape, primalOf(v).shape);
  const scale = checkScale(options.scale ?? 1 / Math.sqrt(g.d));
  if (useComposed(options.kernel, g, [q, k, v])) return composed(q, k, v, scale);
  return bind('attention', { scale }, [q, k, v]);
}

/** Multi-head self-attention on timm's packed qkv [B, N, 3 H d] (the output of its qkv
 * Linear): the same as reshape [B, N, 3, H, d] -> permute (2, 0, 3, 1, 4) -> attention
 * per head -> transpose(1, 2) -> reshape [B, N, H d], with the split and the merge done
 * by the kernel's indexing instead of copies. */
export function qkvAttention(qkv: Operand, heads: number, options: AttentionOptions = {}): Dual {
  const g = packedGeometry(primalOf(qkv).shape, heads);
  const scale = checkScale(options.scale ?? 1 / Math.sqrt(g.d));
  if (!useComposed(options.kernel, g, [qkv])) return bind('qkvAttention', { heads, scale }, [qkv]);
  const { batch: b, n, d } = g;
  // [B, N, 3 H d] -> [3, B, H, N, d]: q, k, v as contiguous heads
  const split = permute(reshape(qkv, [b, n, 3, heads, d]), [2, 0, 3, 1, 4]);
  const part = (i: number) => reshape(narrow(split, 0, i, 1), [b, heads, n, d]);
  const o = composed(part(0), part(1), part(2), scale);
  return reshape(permute(o, [0, 2, 1, 3]), [b, n, heads * d]);
}
