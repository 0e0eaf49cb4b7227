import { Tensor, tidy } from '../engine/tensor.js';
import * as ops from '../engine/ops/index.js';

/** Finite image transforms for the sample-based metrics (lee/metrics.ts), as GPU ops on
 * images [B, C, H, W]. Filters and sampling grids are built on the CPU in float64 and
 * uploaded as float32; the images never leave the GPU.
 *
 * Two families:
 * - StyleGAN3's operators (Karras et al. 2021, "Alias-Free GANs", Appendix E), which the
 *   paper's EQ_T / EQ_T_frac / EQ_R call: integer translation with zero fill, Lanczos-3
 *   fractional translation, and rotation through a 4x upsampled band-limited image.
 * - The paper's own affine resampling (its lee/transforms.py `translate` / `rotate`):
 *   align_corners=True normalised coordinates, bilinear, out-of-range taps reflected. */

const sinc = (x: number): number => {
  const y = Math.abs(x * Math.PI);
  return y < 1e-30 ? 1 : Math.sin(y) / y;
};

/** Rows [top, top + h) and columns [left, left + w) of x; zero where outside x. One pad
 * op: negative pads crop. */
export function windowZero(x: Tensor, top: number, left: number, h: number, w: number): Tensor {
  const [, , H, W] = x.shape as [number, number, number, number];
  return ops.pad(x, [-left, left + w - W, -top, top + h - H]).primal;
}

/** Shift by whole pixels, zero fill: out[i, j] = x[i - dy, j - dx] (StyleGAN3's
 * apply_integer_translation with its tx * W, ty * H already rounded). */
export function integerTranslate(x: Tensor, dx: number, dy: number): Tensor {
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) throw new Error(`integerTranslate: shifts must be integers, got (${dx}, ${dy})`);
  const [, , H, W] = x.shape as [number, number, number, number];
  return windowZero(x, -dy, -dx, H, W);
}

/** The 6 Lanczos-3 taps for a shift with fractional part `frac` in [0, 1): tap k in
 * -2..3 weighs sinc(k - frac) sinc((k - frac) / 3), normalised to sum 1. */
export function lanczos3Taps(frac: number): number[] {
  const taps = [-2, -1, 0, 1, 2, 3].map((k) => sinc(k - frac) * sinc((k - frac) / 3));
  const s = taps.reduce((a, v) => a + v, 0);
  return taps.map((v) => v / s);
}

/** Shift by tx, ty pixels (any real numbers) with a separable Lanczos-3 filter, zero
 * outside the image (StyleGAN3's apply_fractional_translation, a = 3):
 * out[i, j] = sum_{l, k = -2..3} hy(l) hx(k) x[i - iy - l, j - ix - k],
 * ix = floor(tx), hx = lanczos3Taps(tx - ix), and likewise in y. One depthwise 6x6
 * conv2d on a zero-filled window. */
export function fractionalTranslate(x: Tensor, tx: number, ty: number): Tensor {
  const [, C, H, W] = x.shape as [number, number, number, number];
  const ix = Math.floor(tx);
  const iy = Math.floor(ty);
  const hx = lanczos3Taps(tx - ix);
  const hy = lanczos3Taps(ty - iy);
  // correlation weight at (a, b) multiplies x[i + a - iy - 3, j + b - ix - 3]: tap l = 3 - a
  const w = new Float32Array(C * 36);
  for (let c = 0; c < C; c++) {
    for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) w[c * 36 + a * 6 + b] = hy[5 - a]! * hx[5 - b]!;
  }
  return tidy(() => {
    const win = windowZero(x, -iy - 3, -ix - 3, H + 5, W + 5);
    return ops.conv2d(win, Tensor.fromData(w, [C, 1, 6, 6]), null, { groups: C }).primal;
  });
}

// ---- StyleGAN3's band-limited rotation ---------------------------------------------

const UP = 4;
/** Lanczos a, filter half-width (amax = 2a for rotation), design grid half-width (aflt) */
const A = 3;
const AMAX = 2 * A;
const AFLT = 64;
/** the design grid: N samples at spacing 1/UP, circular (StyleGAN3's FFT convolution) */
const N = 2 * AFLT * UP - 1;
/** the filter: 2 AMAX UP - 1 = 47 taps per axis at positions (q - 23) / UP */
export const ROTATION_TAPS = 2 * AMAX * UP - 1;
const HALF = (ROTATION_TAPS - 1) / 2;

/** Position of circular design-grid index n (index 0 is the origin). */
const gridPos = (n: number): number => (n <= (N - 1) / 2 ? n : n - N) / UP;
const lanczosWindow = (x: number): number => (Math.abs(x) / A < 1 ? sinc(x / A) : 0);

/** Circular 2D convolution of a separable s[a] s[b] with g[N x N], at the ROTATION_TAPS^2
 * central outputs only: first along columns for every row, then along rows. `support`
 * lists the indices where s is non-zero. */
function separableCircConv(s: Float64Array, support: number[], g: Float64Array): Float64Array {
  const out = new Float64Array(ROTATION_TAPS * ROTATION_TAPS);
  const idx = (q: number) => (q - HALF + N) % N;
  const t = new Float64Array(N * ROTATION_TAPS);
  const dense = support.length === N;
  for (let r = 0; r < N; r++) {
    const row = r * N;
    for (let v = 0; v < ROTATION_TAPS; v++) {
      const cv = idx(v);
      let acc = 0;
      if (dense) {
        // g index cv - b, wrapped: b <= cv reads cv - b, b > cv reads cv - b + N
        for (let b = 0; b <= cv; b++) acc += s[b]! * g[row + cv - b]!;
        for (let b = cv + 1; b < N; b++) acc += s[b]! * g[row + cv - b + N]!;
      } else {
        for (const b of support) acc += s[b]! * g[row + ((cv - b + N) % N)]!;
      }
      t[r * ROTATION_TAPS + v] = acc;
    }
  }
  for (let u = 0; u < ROTATION_TAPS; u++) {
    const cu = idx(u);
    for (let v = 0; v < ROTATION_TAPS; v++) {
      let acc = 0;
      for (const a of support) acc += s[a]! * t[((cu - a + N) % N) * ROTATION_TAPS + v]!;
      out[u * ROTATION_TAPS + v] = acc;
    }
  }
  return out;
}

const designGrid = (() => {
  const pos = Float64Array.from({ length: N }, (_, n) => gridPos(n));
  const sincs = pos.map(sinc);
  const windows = pos.map(lanczosWindow);
  const all = [...Array(N).keys()];
  return { pos, sincs, windows, all, windowSupport: all.filter((n) => windows[n] !== 0) };
})();

/** StyleGAN3's construct_affine_bandlimit_filter for a rotation by `angle` (a = 3,
 * amax = 6, aflt = 64, up = 4, both cutoffs 1), [47, 47] row-major (rows = y), in float64.
 * The ideal filter is the convolution of the input's sinc with the rotated output's
 * sinc, windowed by the convolution of the two Lanczos windows; both convolutions are
 * circular on a 511 x 511 grid of spacing 1/4 (as StyleGAN3's FFTs), here summed
 * directly, using that the input terms are separable. Each of the 16 polyphase
 * components is then normalised to sum 1/16. */
export function rotationFilter(angle: number): Float64Array {
  const { pos, sincs, windows, all, windowSupport } = designGrid;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const fo = new Float64Array(N * N);
  const wo = new Float64Array(N * N);
  for (let a = 0; a < N; a++) {
    const yi = pos[a]!;
    for (let b = 0; b < N; b++) {
      const xi = pos[b]!;
      const xo = c * xi + s * yi;
      const yo = -s * xi + c * yi;
      fo[a * N + b] = sinc(xo) * sinc(yo);
      wo[a * N + b] = lanczosWindow(xo) * lanczosWindow(yo);
    }
  }
  const f = separableCircConv(sincs, all, fo);
  const w = separableCircConv(windows, windowSupport, wo);
  for (let i = 0; i < f.length; i++) f[i]! *= w[i]!;
  // polyphase normalisation: entries q = UP * m + r (the grid padded to 48 with a zero)
  const sums = new Float64Array(UP * UP);
  for (let u = 0; u < ROTATION_TAPS; u++) for (let v = 0; v < ROTATION_TAPS; v++) sums[(u % UP) * UP + (v % UP)]! += f[u * ROTATION_TAPS + v]!;
  for (let u = 0; u < ROTATION_TAPS; u++) {
    for (let v = 0; v < ROTATION_TAPS; v++) f[u * ROTATION_TAPS + v]! /= sums[(u % UP) * UP + (v % UP)]! * UP * UP;
  }
  return f;
}

/** Polyphase taps per input pixel: the upsampled y[4a + r] = sum_d h_r[d] x[a - d] with
 * h_r[d] = 16 f[4d + r - 2], d in 0..12 (upfirdn2d's up = 4, padding p = 23 on the 47-tap
 * filter puts output n at input coordinate (n - 25) / 4). */
const PHASE_TAPS = 13;

/** Depthwise conv weights [C * 16, 1, 13, 13]: output channel c * 16 + r * 4 + s holds
 * phase (r, s) as a correlation over x padded by 12 (weight (a, b) <-> d = 12 - a). */
function phaseWeights(f: Float64Array, channels: number): Float32Array {
  const per = PHASE_TAPS * PHASE_TAPS;
  const one = new Float32Array(UP * UP * per);
  for (let r = 0; r < UP; r++) {
    for (let s = 0; s < UP; s++) {
      for (let a = 0; a < PHASE_TAPS; a++) {
        const q = UP * (PHASE_TAPS - 1 - a) + r - 2;
        if (q < 0 || q >= ROTATION_TAPS) continue;
        for (let b = 0; b < PHASE_TAPS; b++) {
          const p = UP * (PHASE_TAPS - 1 - b) + s - 2;
          if (p < 0 || p >= ROTATION_TAPS) continue;
          one[(r * UP + s) * per + a * PHASE_TAPS + b] = UP * UP * f[q * ROTATION_TAPS + p]!;
        }
      }
    }
  }
  const w = new Float32Array(channels * one.length);
  for (let c = 0; c < channels; c++) w.set(one, c * one.length);
  return w;
}

/** Rotation filters by angle: a call's draws are reused by every batch with the same seed. */
const filterCache = new Map<number, Float64Array>();
const FILTER_CACHE_SIZE = 256;

function cachedRotationFilter(angle: number): Float64Array {
  let f = filterCache.get(angle);
  if (f) {
    filterCache.delete(angle);
  } else {
    f = rotationFilter(angle);
    if (filterCache.size >= FILTER_CACHE_SIZE) filterCache.delete(filterCache.keys().next().value!);
  }
  filterCache.set(angle, f);
  return f;
}

/** Sample points of StyleGAN3's apply_affine_transformation for a rotation, in pixel
 * units of the upsampled image shifted by one for its zero border, [1, H, W, 2]:
 * theta = mat^-1, offset by 1/(4W), 1/(4H) and scaled by W / (W + 2p/4), then
 * affine_grid / grid_sample with align_corners = False. Coordinates are clamped to one
 * pixel beyond the border, where bilinear zero padding is exactly zero. */
function rotationGrid(angle: number, H: number, W: number): Float32Array {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const hy = UP * H + 2 * HALF;
  const wy = UP * W + 2 * HALF;
  const sx = W / (W + ((HALF / UP) * 2));
  const sy = H / (H + ((HALF / UP) * 2));
  const g = new Float32Array(H * W * 2);
  for (let i = 0; i < H; i++) {
    const yn = (2 * i + 1) / H - 1;
    for (let j = 0; j < W; j++) {
      const xn = (2 * j + 1) / W - 1;
      // mat = [[c, s], [-s, c]] so mat^-1 = [[c, -s], [s, c]]
      const gx = (c * xn - s * yn + 1 / (UP * W)) * sx;
      const gy = (s * xn + c * yn + 1 / (UP * H)) * sy;
      const u = ((gx + 1) * wy - 1) / 2;
      const v = ((gy + 1) * hy - 1) / 2;
      g[(i * W + j) * 2] = Math.min(Math.max(u, -1), wy) + 1;
      g[(i * W + j) * 2 + 1] = Math.min(Math.max(v, -1), hy) + 1;
    }
  }
  return g;
}

/** Rotate by `angle` radians about the image centre (StyleGAN3's
 * apply_fractional_rotation): upsample 4x through the band-limited 47 x 47 filter of
 * rotationFilter (a polyphase depthwise conv2d: 16 phases of 13 x 13 per channel), then
 * bilinear sampling with zero padding. The rotation acts in normalised coordinates, as
 * StyleGAN3's (anisotropic on non-square images); corners sample zeros. */
export function fractionalRotate(x: Tensor, angle: number): Tensor {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  const f = cachedRotationFilter(angle);
  const pad = PHASE_TAPS - 1;
  return tidy(() => {
    const weight = Tensor.fromData(phaseWeights(f, C), [C * UP * UP, 1, PHASE_TAPS, PHASE_TAPS]);
    const win = windowZero(x, -pad, -pad, H + 2 * pad, W + 2 * pad);
    const phases = ops.conv2d(win, weight, null, { groups: C }).primal; // [B, C*16, H+12, W+12]
    const ha = H + pad;
    const wa = W + pad;
    const up = ops
      .reshape(ops.permute(ops.reshape(phases, [B, C, UP, UP, ha, wa]), [0, 1, 4, 2, 5, 3]), [B, C, UP * ha, UP * wa])
      .primal;
    // the upsampled image is 4H + 46 tall (4 (H + 12) computed); add a zero border of 1
    const y = windowZero(windowZero(up, 0, 0, UP * H + 2 * HALF, UP * W + 2 * HALF), -1, -1, UP * H + 2 * HALF + 2, UP * W + 2 * HALF + 2);
    return ops.gridSample(y, Tensor.fromData(rotationGrid(angle, H, W), [1, H, W, 2]), 'bilinear').primal;
  });
}

// ---- the paper's affine resampling ----------------------------------------------------

/** Resample x at A (x_n, y_n, 1) for every output pixel, A a 2x3 matrix [a b c; d e f]
 * on align_corners=True normalised coordinates, bilinear, out-of-range taps reflected
 * (the paper's affine_transform / grid_sample; SPEC 5.1's sampler). Translation by t
 * moves sample points by t (W - 1) / 2 pixels. */
export function affineResample(x: Tensor, m: readonly [number, number, number, number, number, number]): Tensor {
  const [, , H, W] = x.shape as [number, number, number, number];
  const [a, b, c, d, e, f] = m;
  const g = new Float32Array(H * W * 2);
  for (let i = 0; i < H; i++) {
    const yn = H > 1 ? -1 + (2 * i) / (H - 1) : 0;
    for (let j = 0; j < W; j++) {
      const xn = W > 1 ? -1 + (2 * j) / (W - 1) : 0;
      g[(i * W + j) * 2] = ((a * xn + b * yn + c + 1) * (W - 1)) / 2;
      g[(i * W + j) * 2 + 1] = ((d * xn + e * yn + f + 1) * (H - 1)) / 2;
    }
  }
  return tidy(() => ops.gridSample(x, Tensor.fromData(g, [1, H, W, 2]), 'bilinear').primal);
}

/** The paper's translate(img, t, axis): sample points moved by t in normalised units. */
export function translateSample(x: Tensor, t: number, axis: 'x' | 'y'): Tensor {
  return affineResample(x, axis === 'x' ? [1, 0, t, 0, 1, 0] : [1, 0, 0, 0, 1, t]);
}

/** The paper's rotate(img, angle): A = [cos sin 0; -sin cos 0] about the centre. */
export function rotateSample(x: Tensor, angle: number): Tensor {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return affineResample(x, [c, s, 0, -s, c, 0]);
}
