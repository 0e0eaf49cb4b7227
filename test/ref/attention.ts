import { nd, type ND } from './ndarray.js';

/** softmax(scale q k^T) v in float64, the N x M matrix in full, row max subtracted:
 * q [..., N, D], k [..., M, D], v [..., M, Dv] -> [..., N, Dv]. */
export function attentionRef(q: ND, k: ND, v: ND, scale: number): ND {
  const r = q.shape.length;
  const [n, d] = [q.shape[r - 2]!, q.shape[r - 1]!];
  const m = k.shape[r - 2]!;
  const dv = v.shape[r - 1]!;
  const heads = q.data.length / (n * d);
  const out = nd([...q.shape.slice(0, r - 2), n, dv]);
  const s = new Float64Array(m);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q.data[(h * n + i) * d + c]! * k.data[(h * m + j) * d + c]!;
        s[j] = scale * dot;
        max = Math.max(max, s[j]!);
      }
      let sum = 0;
      for (let j = 0; j < m; j++) {
        s[j] = Math.exp(s[j]! - max);
        sum += s[j]!;
      }
      for (let j = 0; j < m; j++) {
        const p = s[j]! / sum;
        for (let c = 0; c < dv; c++) out.data[(h * n + i) * dv + c]! += p * v.data[(h * m + j) * dv + c]!;
      }
    }
  }
  return out;
}

/** timm's split of a packed qkv [B, N, 3 H d] (reshape [B, N, 3, H, d], permute
 * (2, 0, 3, 1, 4)), attention per head, heads merged back to [B, N, H d]. */
export function qkvAttentionRef(qkv: ND, heads: number, scale: number): ND {
  const [b, n, c] = qkv.shape as [number, number, number];
  const d = c / (3 * heads);
  const part = (s: number) => {
    const out = nd([b, heads, n, d]);
    for (let i = 0; i < b; i++)
      for (let h = 0; h < heads; h++)
        for (let t = 0; t < n; t++)
          for (let e = 0; e < d; e++) out.data[((i * heads + h) * n + t) * d + e] = qkv.data[(i * n + t) * c + (s * heads + h) * d + e]!;
    return out;
  };
  const o = attentionRef(part(0), part(1), part(2), scale);
  const merged = nd([b, n, heads * d]);
  for (let i = 0; i < b; i++)
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < n; t++)
        for (let e = 0; e < d; e++) merged.data[(i * n + t) * heads * d + h * d + e] = o.data[((i * heads + h) * n + t) * d + e]!;
  return merged;
}
