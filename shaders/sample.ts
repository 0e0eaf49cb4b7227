import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, main1d } from './common.js';

export type Interp = 'bilinear' | 'bicubic';

const PARAMS = `struct P {
  n: u32, k: u32, c: u32, h: u32, w: u32, ho: u32, wo: u32, grid_batch: u32, nx: u32,
}`;

/** Tap weights and their derivatives in the fractional offset t. Bilinear: (1 - t, t).
 * Bicubic: Keys' cubic convolution with a = -0.5 (C1-smooth; its derivative at t = 0
 * is the central difference). */
const WEIGHTS = {
  bilinear: `
const TAPS = 2;
const FIRST = 0;
fn weights(t: f32) -> array<f32, 4> { return array<f32, 4>(1.0 - t, t, 0.0, 0.0); }
fn dweights(t: f32) -> array<f32, 4> { return array<f32, 4>(-1.0, 1.0, 0.0, 0.0); }`,
  bicubic: `
const TAPS = 4;
const FIRST = -1;
fn weights(t: f32) -> array<f32, 4> {
  let t2 = t * t;
  let t3 = t2 * t;
  return array<f32, 4>(-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0,
                       -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2);
}
fn dweights(t: f32) -> array<f32, 4> {
  let t2 = t * t;
  return array<f32, 4>(-1.5 * t2 + 2.0 * t - 0.5, 4.5 * t2 - 5.0 * t,
                       -4.5 * t2 + 4.0 * t + 0.5, 1.5 * t2 - t);
}`,
};

/** out[b, c, i, j] = sum over taps of w x[b, c, reflect(row), reflect(col)] at the grid
 * point (u, v) = grid[b, i, j] in pixel units. Tangents of x (linear) and of the grid
 * (through the weights' derivatives) flow into all K output tangents in one pass. */
export function gridSampleKernel(interp: Interp, tx: boolean, tg: boolean): string {
  const any = tx || tg;
  const bindings = [
    { name: 'x' },
    { name: 'grid' },
    ...(tx ? [{ name: 'tx' }] : []),
    ...(tg ? [{ name: 'tg' }] : []),
    { name: 'y', write: true },
    ...(any ? [{ name: 'ty', write: true }] : []),
  ];
  return wgsl`
${PARAMS}
${declare(bindings, 'P')}
${WEIGHTS[interp]}
// The paper's reflection of an out-of-range tap: k -> (n-1) - |(n-1) - |k||, kept in range.
fn reflect(k: i32, n: u32) -> u32 {
  let m = i32(n) - 1;
  if (m <= 0) { return 0u; }
  return u32(clamp(m - abs(m - abs(k)), 0, m));
}
${main1d(wgsl`
  if (i >= params.n) { return; }
  let j = i % params.wo;
  let r = (i / params.wo) % params.ho;
  let c = (i / (params.wo * params.ho)) % params.c;
  let b = i / (params.wo * params.ho * params.c);
  let gb = select(0u, b, params.grid_batch > 1u);
  let g = ((gb * params.ho + r) * params.wo + j) * 2u;
  let u = grid[g];
  let v = grid[g + 1u];
  let fu = floor(u);
  let fv = floor(v);
  let wu = weights(u - fu);
  let wv = weights(v - fv);
  let du = dweights(u - fu);
  let dv = dweights(v - fv);
  var rows: array<u32, 4>;
  var cols: array<u32, 4>;
  for (var a = 0; a < TAPS; a++) {
    cols[a] = reflect(i32(fu) + FIRST + a, params.w);
    rows[a] = reflect(i32(fv) + FIRST + a, params.h);
  }
  let plane = (b * params.c + c) * params.h * params.w;
  var value = 0.0;
  var gu = 0.0;
  var gv = 0.0;
  for (var a = 0; a < TAPS; a++) {
    for (var e = 0; e < TAPS; e++) {
      let s = x[plane + rows[a] * params.w + cols[e]];
      value += wv[a] * wu[e] * s;
      gu += wv[a] * du[e] * s;
      gv += dv[a] * wu[e] * s;
    }
  }
  y[i] = value;
#if ${any}
  for (var k = 0u; k < params.k; k++) {
    var t = 0.0;
#if ${tx}
    for (var a = 0; a < TAPS; a++) {
      for (var e = 0; e < TAPS; e++) {
        t += wv[a] * wu[e] * tx[k * params.nx + plane + rows[a] * params.w + cols[e]];
      }
    }
#endif
#if ${tg}
    let gk = k * params.grid_batch * params.ho * params.wo * 2u + g;
    t += gu * tg[gk] + gv * tg[gk + 1u];
#endif
    ty[k * params.n + i] = t;
  }
#endif
`)}`;
}
