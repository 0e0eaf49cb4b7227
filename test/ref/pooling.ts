import { nd, type ND } from './ndarray.js';

export interface PoolRefOptions {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

/** Output length as PyTorch documents it: floor (or ceil) of (n + 2p - d(k-1) - 1)/s + 1,
 * where in ceil mode a window must start inside the input or the left padding. */
function outLen(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + p) out -= 1;
  return out;
}

function resolve(o: PoolRefOptions) {
  return {
    k: o.kernel,
    s: o.stride ?? o.kernel,
    p: o.padding ?? [0, 0],
    d: o.dilation ?? [1, 1],
    ceil: o.ceilMode ?? false,
  };
}

/** Max over each window of the -inf padded input. */
export function maxPoolRef(x: ND, o: PoolRefOptions): ND {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const { k, s, p, d, ceil } = resolve(o);
  const oh = outLen(h, k[0], s[0], p[0], d[0], ceil);
  const ow = outLen(w, k[1], s[1], p[1], d[1], ceil);
  const out = nd([n, c, oh, ow]);
  let q = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let m = -Infinity;
        for (let a = 0; a < k[0]; a++) {
          for (let e = 0; e < k[1]; e++) {
            const y = i * s[0] - p[0] + a * d[0];
            const z = j * s[1] - p[1] + e * d[1];
            if (y >= 0 && y < h && z >= 0 && z < w) m = Math.max(m, x.data[(b * h + y) * w + z]!);
          }
        }
        out.data[q++] = m;
      }
    }
  }
  return out;
}

/** max pooling's JVP with ties to the first maximal tap: of the window's input pixels
 * equal to its maximum, the tangent at the one first in row-major order. */
export function maxPoolJvpRef(x: ND, v: ND, o: PoolRefOptions): ND {
  const m = maxPoolRef(x, o);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [, , oh, ow] = m.shape as [number, number, number, number];
  const { k, s, p, d } = resolve(o);
  const out = nd(m.shape);
  let q = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const taps: number[] = [];
        for (let a = 0; a < k[0]; a++) {
          for (let e = 0; e < k[1]; e++) {
            const y = i * s[0] - p[0] + a * d[0];
            const z = j * s[1] - p[1] + e * d[1];
            if (y >= 0 && y < h && z >= 0 && z < w) taps.push((b * h + y) * w + z);
          }
        }
        const first = Math.min(...taps.filter((t) => x.data[t] === m.data[q]));
        out.data[q++] = v.data[first]!;
      }
    }
  }
  return out;
}

/** Mean over each window; the window may not pass the padded border (ceil mode), and the
 * divisor counts zero padding unless countIncludePad is false. */
export function avgPoolRef(x: ND, o: PoolRefOptions): ND {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const { k, s, p, ceil } = resolve(o);
  const include = o.countIncludePad ?? true;
  const oh = outLen(h, k[0], s[0], p[0], 1, ceil);
  const ow = outLen(w, k[1], s[1], p[1], 1, ceil);
  const out = nd([n, c, oh, ow]);
  let q = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let sum = 0;
        let real = 0;
        let padded = 0;
        for (let y = i * s[0] - p[0]; y < i * s[0] - p[0] + k[0]; y++) {
          for (let z = j * s[1] - p[1]; z < j * s[1] - p[1] + k[1]; z++) {
            if (y >= h + p[0] || z >= w + p[1]) continue;
            padded++;
            if (y < 0 || y >= h || z < 0 || z >= w) continue;
            real++;
            sum += x.data[(b * h + y) * w + z]!;
          }
        }
        out.data[q++] = sum / (include ? padded : real);
      }
    }
  }
  return out;
}

/** Mean over PyTorch's adaptive bins [floor(i H / oh), ceil((i + 1) H / oh)). */
export function adaptiveAvgPoolRef(x: ND, [oh, ow]: [number, number]): ND {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const out = nd([n, c, oh, ow]);
  let q = 0;
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const y0 = Math.floor((i * h) / oh);
        const y1 = Math.ceil(((i + 1) * h) / oh);
        const z0 = Math.floor((j * w) / ow);
        const z1 = Math.ceil(((j + 1) * w) / ow);
        let sum = 0;
        for (let y = y0; y < y1; y++) for (let z = z0; z < z1; z++) sum += x.data[(b * h + y) * w + z]!;
        out.data[q++] = sum / ((y1 - y0) * (z1 - z0));
      }
    }
  }
  return out;
}
