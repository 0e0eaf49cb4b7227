import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, main1d } from './common.js';
import { MAX_HELPERS } from './reduce.js';

/** NCHW planes of h x w pooled to oh x ow, one thread per output element. */
const POOL_PARAMS = `struct P {
  n: u32, k: u32, n_in: u32, neg_inf: f32,
  h: u32, w: u32, oh: u32, ow: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: i32, pw: i32, dh: u32, dw: u32,
}`;

const OUTPUT_INDEX = `
  if (i >= params.n) { return; }
  let ox = i % params.ow;
  let oy = (i / params.ow) % params.oh;
  let base = (i / (params.ow * params.oh)) * params.h * params.w;`;

function bindings(withTangents: boolean) {
  return withTangents
    ? [{ name: 'x' }, { name: 'tx' }, { name: 'y', write: true }, { name: 'ty', write: true }]
    : [{ name: 'x' }, { name: 'y', write: true }];
}

/** Max pooling with -inf padding: only the taps inside the input are visited. The
 * window is scanned row by row and only a strictly larger value replaces the best, so
 * ties keep the first maximal tap, as in PyTorch; the tangents copy that tap's entry
 * for all K directions. */
export function maxPoolKernel(withTangents: boolean): string {
  return wgsl`
${POOL_PARAMS}
${declare(bindings(withTangents), 'P')}
${MAX_HELPERS}
// taps a in [tap_begin, tap_end) land inside the input: 0 <= start + a d < n
fn tap_begin(start: i32, d: u32) -> u32 {
  if (start >= 0) { return 0u; }
  return (u32(-start) + d - 1u) / d;
}
fn tap_end(start: i32, d: u32, k: u32, n: u32) -> u32 {
  if (start >= i32(n)) { return 0u; }
  return min(k, u32(i32(n) - 1 - start) / d + 1u);
}
${main1d(wgsl`${OUTPUT_INDEX}
  let y0 = i32(oy * params.sh) - params.ph;
  let x0 = i32(ox * params.sw) - params.pw;
  let a0 = tap_begin(y0, params.dh);
  let a1 = tap_end(y0, params.dh, params.kh, params.h);
  let b0 = tap_begin(x0, params.dw);
  let b1 = tap_end(x0, params.dw, params.kw, params.w);
  if (a0 >= a1 || b0 >= b1) {
    // a dilated window can fall entirely in the padding: -inf, as in PyTorch (from
    // the uniform, since WGSL constant expressions cannot be infinite)
    y[i] = params.neg_inf;
#if ${withTangents}
    for (var k = 0u; k < params.k; k++) { ty[k * params.n + i] = 0.0; }
#endif
    return;
  }
  var bi = base + u32(y0 + i32(a0 * params.dh)) * params.w + u32(x0 + i32(b0 * params.dw));
  var bv = x[bi];
  for (var a = a0; a < a1; a++) {
    let row = base + u32(y0 + i32(a * params.dh)) * params.w;
    for (var b = b0; b < b1; b++) {
      let idx = row + u32(x0 + i32(b * params.dw));
      let v = x[idx];
      // strictly greater: ties keep the first tap in scan order; NaN propagates
      if (v > bv || (is_nan(v) && !is_nan(bv))) { bv = v; bi = idx; }
    }
  }
  y[i] = bv;
#if ${withTangents}
  for (var k = 0u; k < params.k; k++) {
    ty[k * params.n + i] = tx[k * params.n_in + bi];
  }
#endif
`)}`;
}

/** Average pooling as PyTorch: the window is clipped to the padded input (which matters
 * with ceil mode); the divisor counts padding taps or, without countIncludePad, only
 * the real ones. */
export function avgPoolKernel(countIncludePad: boolean): string {
  return wgsl`
${POOL_PARAMS}
${declare(bindings(false), 'P')}
${main1d(wgsl`${OUTPUT_INDEX}
  let hs = i32(oy * params.sh) - params.ph;
  let ws = i32(ox * params.sw) - params.pw;
  let he = min(hs + i32(params.kh), i32(params.h) + params.ph);
  let we = min(ws + i32(params.kw), i32(params.w) + params.pw);
  let padded = (he - hs) * (we - ws);
  let h0 = max(hs, 0);
  let w0 = max(ws, 0);
  let h1 = min(he, i32(params.h));
  let w1 = min(we, i32(params.w));
  var s = 0.0;
  for (var iy = h0; iy < h1; iy++) {
    for (var ix = w0; ix < w1; ix++) {
      s += x[base + u32(iy) * params.w + u32(ix)];
    }
  }
#if ${countIncludePad}
  y[i] = s / f32(padded);
#else
  y[i] = s / f32((h1 - h0) * (w1 - w0));
#endif
`)}`;
}

/** Adaptive average pooling: bin i spans [floor(i h / oh), ceil((i + 1) h / oh)). */
export function adaptiveAvgPoolKernel(): string {
  return wgsl`
${POOL_PARAMS}
${declare(bindings(false), 'P')}
${main1d(wgsl`${OUTPUT_INDEX}
  let h0 = (oy * params.h) / params.oh;
  let h1 = ((oy + 1u) * params.h + params.oh - 1u) / params.oh;
  let w0 = (ox * params.w) / params.ow;
  let w1 = ((ox + 1u) * params.w + params.ow - 1u) / params.ow;
  var s = 0.0;
  for (var iy = h0; iy < h1; iy++) {
    for (var ix = w0; ix < w1; ix++) {
      s += x[base + iy * params.w + ix];
    }
  }
  y[i] = s / f32((h1 - h0) * (w1 - w0));
`)}`;
}
