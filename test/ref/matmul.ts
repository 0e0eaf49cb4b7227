import { broadcastShape, nd, size, strides, unravel, type ND } from './ndarray.js';

/** a [..., M, K] @ b [..., K, N] (b [..., N, K] when transB) with numpy batch
 * broadcasting, plus bias [N]: plain float64 loops over every output element. */
export function matmulRef(a: ND, b: ND, transB = false, bias: ND | null = null): ND {
  const m = a.shape[a.shape.length - 2]!;
  const k = a.shape[a.shape.length - 1]!;
  const n = b.shape[b.shape.length - (transB ? 2 : 1)]!;
  if (b.shape[b.shape.length - (transB ? 1 : 2)] !== k) throw new Error('matmulRef: inner dims differ');
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShape(batchA, batchB);
  const out = nd([...batch, m, n]);
  // index of a batch multi-index into an operand's own (possibly shorter, size-1) batch axes
  const batchOffset = (own: number[], idx: number[]): number => {
    const s = strides(own);
    let o = 0;
    for (let d = 0; d < own.length; d++) o += (own[d] === 1 ? 0 : idx[idx.length - own.length + d]!) * s[d]!;
    return o;
  };
  for (let z = 0; z < size(batch); z++) {
    const idx = unravel(z, batch);
    const oa = batchOffset(batchA, idx) * m * k;
    const ob = batchOffset(batchB, idx) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = bias ? bias.data[j]! : 0;
        for (let p = 0; p < k; p++) {
          const bv = transB ? b.data[ob + j * k + p]! : b.data[ob + p * n + j]!;
          s += a.data[oa + i * k + p]! * bv;
        }
        out.data[(z * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

/** nn.Linear: x [..., in], weight [out, in], bias [out]. */
export function linearRef(x: ND, w: ND, bias: ND | null = null): ND {
  const rows = size(x.shape.slice(0, -1));
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  const y = nd([...x.shape.slice(0, -1), outF]);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias.data[o]! : 0;
      for (let i = 0; i < inF; i++) s += x.data[r * inF + i]! * w.data[o * inF + i]!;
      y.data[r * outF + o] = s;
    }
  }
  return y;
}
