/** Float64 references for the normalisation family: plain loops over the textbook
 * definitions (biased variance, eps inside the square root). */
import { nd, size, type ND } from './ndarray.js';

/** Normalise the `len` values at `offsets` of x into out, with per-element affine. */
function normaliseSet(x: ND, out: ND, offsets: number[], eps: number, w: (j: number) => number, b: (j: number) => number): void {
  let mean = 0;
  for (const o of offsets) mean += x.data[o]!;
  mean /= offsets.length;
  let v = 0;
  for (const o of offsets) v += (x.data[o]! - mean) ** 2;
  v /= offsets.length;
  const r = 1 / Math.sqrt(v + eps);
  offsets.forEach((o, j) => {
    out.data[o] = (x.data[o]! - mean) * r * w(j) + b(j);
  });
}

const affine = (t: ND | null, fallback: number) => (c: number) => (t ? t.data[c]! : fallback);

/** PyTorch nn.LayerNorm over the last axis ('last'), or timm's LayerNorm2d over axis 1
 * of [B, C, ...] at each position ('channels'). */
export function layerNormRef(x: ND, w: ND | null, b: ND | null, eps: number, axis: 'last' | 'channels'): ND {
  const out = nd(x.shape);
  const c = axis === 'last' ? x.shape[x.shape.length - 1]! : x.shape[1]!;
  const inner = axis === 'last' ? 1 : size(x.shape.slice(2));
  const outer = size(x.shape) / (c * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const offsets: number[] = [];
      for (let j = 0; j < c; j++) offsets.push((o * c + j) * inner + i);
      normaliseSet(x, out, offsets, eps, affine(w, 1), affine(b, 0));
    }
  }
  return out;
}

/** PyTorch nn.GroupNorm: statistics per (sample, group) over its channels and positions. */
export function groupNormRef(x: ND, groups: number, w: ND | null, b: ND | null, eps: number): ND {
  const out = nd(x.shape);
  const [batch, c] = [x.shape[0]!, x.shape[1]!];
  const inner = size(x.shape.slice(2));
  const cg = c / groups;
  for (let n = 0; n < batch; n++) {
    for (let g = 0; g < groups; g++) {
      const offsets: number[] = [];
      const channel: number[] = [];
      for (let ch = g * cg; ch < (g + 1) * cg; ch++) {
        for (let i = 0; i < inner; i++) {
          offsets.push((n * c + ch) * inner + i);
          channel.push(ch);
        }
      }
      normaliseSet(x, out, offsets, eps, (j) => affine(w, 1)(channel[j]!), (j) => affine(b, 0)(channel[j]!));
    }
  }
  return out;
}

/** PyTorch BatchNorm in eval mode: running statistics per channel (axis 1). */
export function batchNormRef(x: ND, mean: ND, variance: ND, w: ND | null, b: ND | null, eps: number): ND {
  const out = nd(x.shape);
  const c = x.shape[1]!;
  const inner = size(x.shape.slice(2));
  for (let i = 0; i < out.data.length; i++) {
    const ch = Math.floor(i / inner) % c;
    const scale = (w ? w.data[ch]! : 1) / Math.sqrt(variance.data[ch]! + eps);
    out.data[i] = (x.data[i]! - mean.data[ch]!) * scale + (b ? b.data[ch]! : 0);
  }
  return out;
}
