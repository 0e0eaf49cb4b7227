/**
 * The paper's sample-based comparison metrics (SPEC 5.5): finite transforms drawn at
 * random, compared with the untransformed prediction. Definitions follow the paper's
 * lee/e2e_other.py, whose EQ_* metrics call StyleGAN3's metrics/equivariance.py
 * operators (implemented in lee/resample.ts). For an image x, p(x) = softmax(f(x)) over
 * K classes and d(x') = (1/K) sum_k (p_k(x') - p_k(x))^2:
 *
 * | column | definition | draws (default count) |
 * |---|---|---|
 * | consistency_x{k}, k = 0..7 | 1 if argmax f(roll(x, k, width)) = argmax f(x), else 0 | none (deterministic) |
 * | consistency_y{k}, k = 0..7 | the same, rolled along the height | none |
 * | eq_t | mean of d over integer translations, zero fill | (dx, dy) = round(u W / 8), round(v H / 8), u, v ~ U[-1, 1) (200) |
 * | eq_t_frac | mean of d over Lanczos-3 fractional translations, zero outside | (tx, ty) = (u W / 8, v H / 8) pixels (200) |
 * | eq_r | mean of d over StyleGAN3's band-limited rotations | angle ~ U[-pi, pi) (200) |
 * | trans_x_sample | mean of d over the paper's bilinear translate(x, t, 'x') | t ~ U[-2, 2) normalised units, t (W-1)/2 pixels (10) |
 * | trans_y_sample | the same along y | t ~ U[-2, 2) (10) |
 * | rotate_sample | mean of d over the paper's bilinear rotate(x, theta) | theta ~ U[-pi/16, pi/16) (10) |
 *
 * The default counts are the paper's: EQ_* average 20 probes of 10 draws, the *_sample
 * metrics 10 draws. Every value is per image (the paper's code averages over its batch,
 * which has one image).
 *
 * Randomness: a mulberry32 stream per metric (engine/random.ts), seeded from `seed` and
 * the metric's index, so changing one metric's count leaves the others' draws alone.
 * One call draws once and applies each draw to every image of the batch: an image's
 * values depend only on (image, seed, counts), not on its batch neighbours. For
 * independent draws across batches, pass a different seed per batch. Draws are returned
 * with the values, and `draws` may be passed in to replay them.
 *
 * Where we deliberately differ from the paper's code (SPEC 5.6):
 * - rotate_sample draws theta from U[-pi/16, pi/16); the paper's `eta = np.pi // 16` is
 *   floor division, 0.0, so every angle is 0 and its column is identically 0.
 * - eq_t rounds each shift once to whole pixels, round(t W); the paper first rounds t to
 *   multiples of 1/(H W) (meant 1/W), then StyleGAN3 rounds t W again.
 * - consistency_x rolls along the width (x) and consistency_y along the height; the
 *   paper's code rolls dim 2 (height) for "x" and dim 3 for "y", so its columns are swapped.
 * - top-1 is read from the logits for both the original and the rolled image (the paper
 *   mixes the softmax and the logits; the same argmax except at float32 ties of exp).
 * - Our RNG, not torch's: the values match the paper's in distribution, not draw for draw.
 * Kept as the paper has them: EQ_* report the mean squared difference (no PSNR), and
 * StyleGAN3's validity masks are ignored, so zero-filled borders count.
 *
 * Cost: one forward pass of the batch per draw and per non-zero roll (645 with the
 * defaults). Each eq_r angle also builds its 47 x 47 filter on the CPU (~0.1 s on a
 * 2-core machine), cached by angle, so later batches with the same seed reuse them.
 */
import { Tensor, tidy } from '../engine/tensor.js';
import { dual } from '../engine/dual.js';
import * as ops from '../engine/ops/index.js';
import { LeeError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import type { Classifier } from './lie.js';
import { forEachBatch, type ImageSource } from './batches.js';
import { fractionalRotate, fractionalTranslate, integerTranslate, rotateSample, translateSample } from './resample.js';

export const SAMPLED_METRICS = ['eq_t', 'eq_t_frac', 'eq_r', 'trans_x_sample', 'trans_y_sample', 'rotate_sample'] as const;
export type SampledMetric = (typeof SAMPLED_METRICS)[number];

export const CONSISTENCY_SHIFTS = 8;
export const CONSISTENCY_COLUMNS: readonly string[] = (['x', 'y'] as const).flatMap((a) =>
  Array.from({ length: CONSISTENCY_SHIFTS }, (_, k) => `consistency_${a}${k}`),
);
/** Every column sampleMetrics reports, in the paper's CSV order. */
export const SAMPLE_METRIC_COLUMNS: readonly string[] = [...CONSISTENCY_COLUMNS, ...SAMPLED_METRICS];

/** The paper's draw counts per image. */
export const DEFAULT_SAMPLES: Readonly<Record<SampledMetric, number>> = {
  eq_t: 200,
  eq_t_frac: 200,
  eq_r: 200,
  trans_x_sample: 10,
  trans_y_sample: 10,
  rotate_sample: 10,
};

/** StyleGAN3's translate_max (fraction of the image size) and rotate_max (times pi). */
export const TRANSLATE_MAX = 0.125;
export const ROTATE_MAX = Math.PI;
/** The paper's eta for trans_*_sample (normalised units) and rotate_sample (radians). */
export const TRANSLATE_SAMPLE_ETA = 2;
export const ROTATE_SAMPLE_ETA = Math.PI / 16;

/** The finite transforms of one call: pixels for eq_t (integers) and eq_t_frac,
 * radians for the angles, normalised align_corners units for trans_*_sample. */
export interface SampleDraws {
  eq_t: { dx: number; dy: number }[];
  eq_t_frac: { tx: number; ty: number }[];
  eq_r: number[];
  trans_x_sample: number[];
  trans_y_sample: number[];
  rotate_sample: number[];
}

export type SampleCounts = number | Partial<Record<SampledMetric, number>>;

export interface SampleMetricsOptions {
  /** an integer in [0, 2^32) */
  seed: number;
  /** draws per metric: one number for all, or per metric over DEFAULT_SAMPLES; 0 skips
   * a metric (reported as NaN) */
  samples?: SampleCounts;
  /** replay these draws instead of drawing from `seed` */
  draws?: SampleDraws;
  /** called after every forward pass */
  onProgress?: (done: number, total: number) => void;
}

export interface SampleMetricsResult {
  /** per image, a value for every SAMPLE_METRIC_COLUMNS entry */
  values: Record<string, number>[];
  draws: SampleDraws;
}

/** A splitmix32-style scramble of (seed, stream): independent mulberry32 streams. */
export function streamSeed(seed: number, stream: number): number {
  let z = (seed + Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function resolveCounts(samples: SampleCounts | undefined): Record<SampledMetric, number> {
  const out = { ...DEFAULT_SAMPLES };
  for (const m of SAMPLED_METRICS) {
    const n = typeof samples === 'number' ? samples : samples?.[m] ?? DEFAULT_SAMPLES[m];
    if (!Number.isInteger(n) || n < 0) throw new LeeError(`samples for ${m} must be a non-negative integer, got ${n}`);
    out[m] = n;
  }
  return out;
}

/** The random transforms for images of `height` x `width` (see the module comment). */
export function drawSamples(seed: number, height: number, width: number, samples?: SampleCounts): SampleDraws {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new LeeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const counts = resolveCounts(samples);
  const stream = (m: SampledMetric) => new Rng(streamSeed(seed, SAMPLED_METRICS.indexOf(m)));
  const sym = (rng: Rng) => rng.uniform() * 2 - 1;
  const times = <T>(m: SampledMetric, draw: (rng: Rng) => T): T[] => {
    const rng = stream(m);
    return Array.from({ length: counts[m] }, () => draw(rng));
  };
  return {
    eq_t: times('eq_t', (r) => {
      const dx = Math.floor(sym(r) * TRANSLATE_MAX * width + 0.5);
      return { dx, dy: Math.floor(sym(r) * TRANSLATE_MAX * height + 0.5) };
    }),
    eq_t_frac: times('eq_t_frac', (r) => {
      const tx = sym(r) * TRANSLATE_MAX * width;
      return { tx, ty: sym(r) * TRANSLATE_MAX * height };
    }),
    eq_r: times('eq_r', (r) => sym(r) * ROTATE_MAX),
    trans_x_sample: times('trans_x_sample', (r) => sym(r) * TRANSLATE_SAMPLE_ETA),
    trans_y_sample: times('trans_y_sample', (r) => sym(r) * TRANSLATE_SAMPLE_ETA),
    rotate_sample: times('rotate_sample', (r) => sym(r) * ROTATE_SAMPLE_ETA),
  };
}

/** Each metric's transforms, as functions of the images. */
function transformsOf(d: SampleDraws): Record<SampledMetric, ((x: Tensor) => Tensor)[]> {
  return {
    eq_t: d.eq_t.map(({ dx, dy }) => (x: Tensor) => integerTranslate(x, dx, dy)),
    eq_t_frac: d.eq_t_frac.map(({ tx, ty }) => (x: Tensor) => fractionalTranslate(x, tx, ty)),
    eq_r: d.eq_r.map((a) => (x: Tensor) => fractionalRotate(x, a)),
    trans_x_sample: d.trans_x_sample.map((t) => (x: Tensor) => translateSample(x, t, 'x')),
    trans_y_sample: d.trans_y_sample.map((t) => (x: Tensor) => translateSample(x, t, 'y')),
    rotate_sample: d.rotate_sample.map((a) => (x: Tensor) => rotateSample(x, a)),
  };
}

/** Logits and softmax of the model on transform(images), read back. */
async function evaluate(model: Classifier, images: Tensor, transform: (x: Tensor) => Tensor): Promise<{ logits: Float32Array; probs: Float32Array }> {
  const [logits, probs] = tidy(() => {
    const out = model.forward(dual(transform(images))).primal;
    if (out.rank !== 2 || out.shape[0] !== images.shape[0]) {
      throw new Error(`the model must return logits [${images.shape[0]}, classes], got [${out.shape.join(', ')}]`);
    }
    return [out, ops.softmax(out, -1).primal] as const;
  });
  try {
    return { logits: await logits.read(), probs: await probs.read() };
  } finally {
    logits.dispose();
    probs.dispose();
  }
}

function argmaxRows(v: Float32Array, rows: number): number[] {
  const k = v.length / rows;
  return Array.from({ length: rows }, (_, b) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (v[b * k + c]! > v[b * k + best]!) best = c;
    return best;
  });
}

/** The sample-based metrics of every image in `images` [B, C, H, W] (already
 * normalised), one forward pass per draw and per non-zero roll over the whole batch. */
export async function sampleMetrics(model: Classifier, images: Tensor, opts: SampleMetricsOptions): Promise<SampleMetricsResult> {
  if (images.rank !== 4) throw new LeeError(`images must be [B, C, H, W], got [${images.shape.join(', ')}]`);
  const [B, , H, W] = images.shape as [number, number, number, number];
  const draws = opts.draws ?? drawSamples(opts.seed, H, W, opts.samples);
  const transforms = transformsOf(draws);
  const total = 1 + 2 * (CONSISTENCY_SHIFTS - 1) + SAMPLED_METRICS.reduce((a, m) => a + transforms[m].length, 0);
  let done = 0;
  const step = () => opts.onProgress?.(++done, total);

  const base = await evaluate(model, images, (x) => x);
  step();
  const classes = base.probs.length / B;
  const top1 = argmaxRows(base.logits, B);
  const values: Record<string, number>[] = Array.from({ length: B }, () => ({}));

  for (const [axis, dim] of [['x', 3], ['y', 2]] as const) {
    for (let k = 0; k < CONSISTENCY_SHIFTS; k++) {
      let same = top1.map(() => true);
      if (k > 0) {
        const rolled = await evaluate(model, images, (x) => ops.roll(x, k, dim).primal);
        step();
        const t = argmaxRows(rolled.logits, B);
        same = t.map((c, b) => c === top1[b]);
      }
      same.forEach((s, b) => (values[b]![`consistency_${axis}${k}`] = s ? 1 : 0));
    }
  }

  for (const m of SAMPLED_METRICS) {
    const sums = new Float64Array(B);
    for (const transform of transforms[m]) {
      const { probs } = await evaluate(model, images, transform);
      step();
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let c = 0; c < classes; c++) {
          const d = probs[b * classes + c]! - base.probs[b * classes + c]!;
          s += d * d;
        }
        sums[b]! += s / classes;
      }
    }
    const n = transforms[m].length;
    for (let b = 0; b < B; b++) values[b]![m] = n > 0 ? sums[b]! / n : NaN;
  }
  return { values, draws };
}

export interface SampleMetricsRunOptions {
  batch: number;
  seed: number;
  samples?: SampleCounts;
  /** images done, images in all */
  onProgress?: (done: number, total: number) => void;
}

/** `sampleMetrics` over every image of `source`, a batch at a time, with the same draws
 * for every batch (one seed), so an image's values do not depend on its batch. */
export async function runSampleMetrics(model: Classifier, source: ImageSource, opts: SampleMetricsRunOptions): Promise<Record<string, number>[]> {
  const out: Record<string, number>[] = [];
  await forEachBatch(source, opts.batch, async (x) => void out.push(...(await sampleMetrics(model, x, { seed: opts.seed, samples: opts.samples })).values), opts.onProgress);
  return out;
}
