import { nd, type ND } from './ndarray.js';

export interface ConvRefOptions {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/** Direct float64 cross-correlation straight from the definition, PyTorch semantics:
 * y[b, co, oy, ox] = bias[co] + sum_{ci in group(co), ky, kx}
 *   w[co, ci, ky, kx] x[b, g*Cg + ci, oy*s - p + ky*d, ox*s - p + kx*d] (zero outside). */
export function conv2dRef(x: ND, w: ND, bias: ND | null, o: ConvRefOptions = {}): ND {
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const groups = o.groups ?? 1;
  const [B, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cout, Cg, KH, KW] = w.shape as [number, number, number, number];
  if (Cg * groups !== Cin) throw new Error('conv2dRef: channel mismatch');
  const Ho = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const perGroup = Cout / groups;
  const y = nd([B, Cout, Ho, Wo]);
  for (let b = 0; b < B; b++) {
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / perGroup);
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          let s = bias ? bias.data[co]! : 0;
          for (let ci = 0; ci < Cg; ci++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * sw - pw + kx * dw;
                if (ix < 0 || ix >= W) continue;
                const xv = x.data[((b * Cin + g * Cg + ci) * H + iy) * W + ix]!;
                const wv = w.data[((co * Cg + ci) * KH + ky) * KW + kx]!;
                s += xv * wv;
              }
            }
          }
          y.data[((b * Cout + co) * Ho + oy) * Wo + ox] = s;
        }
      }
    }
  }
  return y;
}
