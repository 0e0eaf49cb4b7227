/** PIL's `Image.resize` for 8-bit RGB (Pillow's Resample.c), bit for bit: separable
 * passes, horizontal then vertical, each with the filter's support widened by the
 * downscale factor (antialiasing), weights normalised then held in 22-bit fixed point,
 * and each pass rounded and clipped to 0..255. timm's eval transform resizes with it
 * (torchvision's Resize on a PIL image), so this is what PyTorch results were computed
 * on; pure TypeScript, so Node and the browser give the same pixels. */

export type ResizeFilter = 'bilinear' | 'bicubic';

const SUPPORT: Record<ResizeFilter, number> = { bilinear: 1, bicubic: 2 };

function bilinear(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

/** Keys' cubic with a = -0.5, as Pillow uses. */
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  ksize: number;
  /** per output index: first input index, and how many */
  bounds: Int32Array;
  /** fixed-point weights, ksize per output index */
  weights: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function coefficients(inSize: number, outSize: number, filter: ResizeFilter): Coefficients {
  const f = filter === 'bicubic' ? bicubic : bilinear;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = SUPPORT[filter] * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) cast truncates toward zero
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = f((x + xmin - center + 0.5) * ss);
      ww += k[x]!;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax ? (ww !== 0 ? k[x]! / ww : k[x]!) : 0;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** Round a fixed-point sum (with its half already added) to 0..255: Pillow's clip8. */
const clip8 = (v: number): number => {
  const q = Math.floor(v / (1 << PRECISION_BITS));
  return q < 0 ? 0 : q > 255 ? 255 : q;
};

/** One pass along x (`horizontal`) or y of interleaved RGB [h, w, 3]. */
function pass(src: Uint8Array, w: number, h: number, out: number, horizontal: boolean, filter: ResizeFilter): Uint8Array {
  const c = coefficients(horizontal ? w : h, out, filter);
  const ow = horizontal ? out : w;
  const oh = horizontal ? h : out;
  const dst = new Uint8Array(ow * oh * 3);
  const half = 1 << (PRECISION_BITS - 1);
  // the products stay below 2^31 in magnitude for 8-bit input, as in Pillow's INT32 sums
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const o = horizontal ? x : y;
      const start = c.bounds[o * 2]!;
      const n = c.bounds[o * 2 + 1]!;
      const kk = o * c.ksize;
      let r = half;
      let g = half;
      let b = half;
      for (let i = 0; i < n; i++) {
        const p = horizontal ? (y * w + start + i) * 3 : ((start + i) * w + x) * 3;
        const wt = c.weights[kk + i]!;
        r += src[p]! * wt;
        g += src[p + 1]! * wt;
        b += src[p + 2]! * wt;
      }
      const q = (y * ow + x) * 3;
      dst[q] = clip8(r);
      dst[q + 1] = clip8(g);
      dst[q + 2] = clip8(b);
    }
  }
  return dst;
}

/** Resize interleaved 8-bit RGB [h, w, 3] to [outH, outW, 3] as PIL does. */
export function resizeRgb(src: Uint8Array, w: number, h: number, outW: number, outH: number, filter: ResizeFilter): Uint8Array {
  if (src.length !== w * h * 3) throw new Error(`resizeRgb: ${src.length} bytes is not ${w} x ${h} RGB`);
  let img = src;
  if (outW !== w) img = pass(img, w, h, outW, true, filter);
  if (outH !== h) img = pass(img, outW, h, outH, false, filter);
  return img;
}
