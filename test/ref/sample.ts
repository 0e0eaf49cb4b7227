import { nd, type ND } from './ndarray.js';

/** The paper's reflection of an integer tap index into [0, n). */
export function reflectIndex(k: number, n: number): number {
  const m = n - 1;
  if (m <= 0) return 0;
  return Math.min(Math.max(m - Math.abs(m - Math.abs(k)), 0), m);
}

function cubic(t: number): number[] {
  // Keys' cubic convolution kernel, a = -0.5, at distances 1 + t, t, 1 - t, 2 - t
  const a = -0.5;
  const k = (s: number) => {
    const x = Math.abs(s);
    if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
    if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
    return 0;
  };
  return [k(1 + t), k(t), k(1 - t), k(2 - t)];
}

/** The output [B,C,Ho,Wo] of a grid sampling of x [B,C,H,W] at grid [B|1,Ho,Wo,2],
 * filled by `fn` point by point: it gets the output, the point's batch, its flat output
 * index per channel (`o(c)`) and the offset `g` of its (column, row) in the grid. */
function forEachSample(x: ND, grid: ND, fn: (out: ND, b: number, o: (c: number) => number, g: number) => void): ND {
  const [B, C] = x.shape as [number, number];
  const [GB, Ho, Wo] = grid.shape as [number, number, number];
  const out = nd([B, C, Ho, Wo]);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        fn(out, b, (c) => ((b * C + c) * Ho + i) * Wo + j, (((GB === 1 ? 0 : b) * Ho + i) * Wo + j) * 2);
      }
    }
  }
  return out;
}

/** Float64 grid sampling: x [B,C,H,W] at grid [B|1,Ho,Wo,2] (column, row) in pixels. */
export function gridSampleRef(x: ND, grid: ND, interp: 'bilinear' | 'bicubic'): ND {
  const [, C, H, W] = x.shape as [number, number, number, number];
  return forEachSample(x, grid, (out, b, o, g) => {
    const u = grid.data[g]!;
    const v = grid.data[g + 1]!;
    const fu = Math.floor(u);
    const fv = Math.floor(v);
    const taps = interp === 'bilinear' ? [0, 1] : [-1, 0, 1, 2];
    const wu = interp === 'bilinear' ? [1 - (u - fu), u - fu] : cubic(u - fu);
    const wv = interp === 'bilinear' ? [1 - (v - fv), v - fv] : cubic(v - fv);
    for (let c = 0; c < C; c++) {
      let s = 0;
      taps.forEach((dy, a) => {
        taps.forEach((dx, e) => {
          const r = reflectIndex(fv + dy, H);
          const q = reflectIndex(fu + dx, W);
          s += wv[a]! * wu[e]! * x.data[((b * C + c) * H + r) * W + q]!;
        });
      });
      out.data[o(c)] = s;
    }
  });
}

/** Bilinear sampling's JVP at pixel centres (SPEC 5.1): at integer (u, v) = (q, r) the
 * value is x[r, q], and the grid tangent (du, dv) enters through the right / bottom
 * neighbour, reflected at the far edge (q + 1 = W reads W - 2):
 * d out = tx[r, q] + du (x[r, q+1] - x[r, q]) + dv (x[r+1, q] - x[r, q]).
 * `tx` / `tg` are null where the image / grid carries no tangent. */
export function bilinearCentreJvpRef(x: ND, grid: ND, tx: ND | null, tg: ND | null): ND {
  const [, C, H, W] = x.shape as [number, number, number, number];
  return forEachSample(x, grid, (out, b, o, g) => {
    const q = grid.data[g]!;
    const r = grid.data[g + 1]!;
    if (!Number.isInteger(q) || !Number.isInteger(r) || q < 0 || q >= W || r < 0 || r >= H) {
      throw new Error(`bilinearCentreJvpRef: (${q}, ${r}) is not a pixel centre`);
    }
    for (let c = 0; c < C; c++) {
      const plane = (b * C + c) * H * W;
      const at = (rr: number, qq: number) => x.data[plane + reflectIndex(rr, H) * W + reflectIndex(qq, W)]!;
      let t = tx ? tx.data[plane + r * W + q]! : 0;
      if (tg) t += tg.data[g]! * (at(r, q + 1) - at(r, q)) + tg.data[g + 1]! * (at(r + 1, q) - at(r, q));
      out.data[o(c)] = t;
    }
  });
}
