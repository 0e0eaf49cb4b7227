import { Tensor, dual, ops, type Dual, type Operand } from '../../engine/index.js';
import { ATTENTION_TANGENT_CHUNK } from '../../engine/ops/attention.js';
import type { InputSpec, OpCase } from '../helpers/optest.js';
import { attentionRef, qkvAttentionRef } from '../ref/attention.js';
import type { Rng } from '../helpers/random.js';

/** Small integers: every product and dot product is exact in float32, so logits in the
 * hundreds (exp overflows without the running max) are compared without rounding noise. */
const integers = (rng: Rng, n: number) => rng.uniforms(n, -6.5, 6.5).map((x) => Math.round(x));

interface Row {
  what: string;
  /** q [..., N, D], k [..., M, D], v [..., M, Dv] */
  q: number[];
  k: number[];
  v: number[];
  scale: number;
  /** which of q, k, v carry tangents */
  tangents: [boolean, boolean, boolean];
  init?: InputSpec['init'];
  h?: number;
}

const ROWS: Row[] = [
  { what: '2 heads, 5 tokens, d 8', q: [2, 5, 8], k: [2, 5, 8], v: [2, 5, 8], scale: 8 ** -0.5, tangents: [true, true, true] },
  { what: 'tangents on q only', q: [2, 5, 8], k: [2, 5, 8], v: [2, 5, 8], scale: 8 ** -0.5, tangents: [true, false, false] },
  { what: 'tangents on k only', q: [2, 5, 8], k: [2, 5, 8], v: [2, 5, 8], scale: 8 ** -0.5, tangents: [false, true, false] },
  { what: 'tangents on v only', q: [2, 5, 8], k: [2, 5, 8], v: [2, 5, 8], scale: 8 ** -0.5, tangents: [false, false, true] },
  { what: 'B 2, 3 heads, N 17, d 16 (no whole tiles)', q: [2, 3, 17, 16], k: [2, 3, 17, 16], v: [2, 3, 17, 16], scale: 0.25, tangents: [true, true, true] },
  { what: 'N 65, d 16 (three key tiles)', q: [1, 2, 65, 16], k: [1, 2, 65, 16], v: [1, 2, 65, 16], scale: 0.25, tangents: [true, true, true] },
  { what: 'N 40, d 64 (16-key tiles)', q: [1, 2, 40, 64], k: [1, 2, 40, 64], v: [1, 2, 40, 64], scale: 0.125, tangents: [true, true, true] },
  { what: 'head dims 5 and 7 (vec4 padding), 11 keys', q: [3, 6, 5], k: [3, 11, 5], v: [3, 11, 7], scale: 0.45, tangents: [true, true, true] },
  { what: 'cross: 7 queries, 33 keys, Dv 12', q: [2, 7, 8], k: [2, 33, 8], v: [2, 33, 12], scale: 0.3, tangents: [true, true, true] },
  {
    what: 'large logits (integers, scale 2: logits in the hundreds)',
    q: [2, 9, 8],
    k: [2, 9, 8],
    v: [2, 9, 8],
    scale: 2,
    tangents: [true, true, true],
    init: integers,
    h: 1e-5,
  },
];

type Kernel = 'fused' | 'composed';

/** The fused rows keep their original names (and so their seeds); composed ones say so. */
const named = (what: string, kernel: Kernel) => (kernel === 'fused' ? what : `${what} (composed)`);

const rowCase = (r: Row, kernel: Kernel): OpCase => ({
  name: `attention ${named(r.what, kernel)}`,
  inputs: [
    { shape: r.q, constant: !r.tangents[0], init: r.init },
    { shape: r.k, constant: !r.tangents[1], init: r.init },
    { shape: r.v, constant: !r.tangents[2] },
  ],
  gpu: ([q, k, v]) => ops.attention(q!, k!, v!, { scale: r.scale, kernel }),
  ref: ([q, k, v]) => attentionRef(q!, k!, v!, r.scale),
  h: r.h,
});

/** Enough copies that even K = 1 needs three dispatches. */
const COPIES = 2 * ATTENTION_TANGENT_CHUNK + 1;

/** Each tangent repeated COPIES times (K = 9 or 27 runs as several dispatches); the last
 * copies come back, so a later chunk is what the table checks. */
function lastChunk(q: Operand, k: Operand, v: Operand, scale: number): Dual {
  const rep = (x: Operand): Operand =>
    x instanceof Tensor || !x.tangents ? x : dual(x.primal, ops.concat(Array<Tensor>(COPIES).fill(x.tangents), 0).primal);
  const out = ops.attention(rep(q), rep(k), rep(v), { scale, kernel: 'fused' });
  if (!out.tangents) return out;
  const k1 = out.tangents!.shape[0]! / COPIES;
  return dual(out.primal, ops.narrow(out.tangents, 0, (COPIES - 1) * k1, k1).primal);
}

/** timm's packed qkv [B, N, 3 H d]: [shape, heads, scale, what] */
const PACKED: [number[], number, number, string][] = [
  [[2, 17, 144], 3, 0.25, 'vit_mini: B 2, N 17, 3 heads of 16'],
  [[1, 65, 48], 2, 8 ** -0.5, 'N 65, 2 heads of 8 (three key tiles)'],
  [[1, 40, 384], 2, 0.125, '2 heads of 64'],
];

const packedCase = ([shape, heads, scale, what]: (typeof PACKED)[number], kernel: Kernel): OpCase => ({
  name: `qkvAttention ${named(what, kernel)}`,
  inputs: [{ shape }],
  gpu: ([x]) => ops.qkvAttention(x!, heads, { scale, kernel }),
  ref: ([x]) => qkvAttentionRef(x!, heads, scale),
});

/** The fused kernel, forced (CPU drivers would compose by default). */
export const attentionCases: OpCase[] = [
  ...ROWS.map((r) => rowCase(r, 'fused')),
  ...PACKED.map((p) => packedCase(p, 'fused')),
  {
    name: 'attention with more tangents than one dispatch takes (last chunk checked)',
    inputs: [{ shape: [2, 17, 16] }, { shape: [2, 17, 16] }, { shape: [2, 17, 16] }],
    gpu: ([q, k, v]) => lastChunk(q!, k!, v!, 0.25),
    ref: ([q, k, v]) => attentionRef(q!, k!, v!, 0.25),
  },
];

/** The same rows through the composition CPU drivers choose: GEMM, softmax, GEMM. */
export const composedAttentionCases: OpCase[] = [...ROWS.map((r) => rowCase(r, 'composed')), ...PACKED.map((p) => packedCase(p, 'composed'))];
