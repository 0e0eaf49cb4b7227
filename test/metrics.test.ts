import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, Tensor, tidy, ops, LeeError, type Dual } from '../engine/index.js';
import { loadSafetensors, type HostTensor } from '../engine/safetensors.js';
import type { Classifier } from '../lee/lie.js';
import {
  drawSamples,
  sampleMetrics,
  SAMPLED_METRICS,
  SAMPLE_METRIC_COLUMNS,
  ROTATE_SAMPLE_ETA,
  type SampleDraws,
  type SampledMetric,
} from '../lee/metrics.js';
import {
  fractionalRotate,
  fractionalTranslate,
  integerTranslate,
  rotateSample,
  rotationFilter,
  translateSample,
} from '../lee/resample.js';
import { expectClose, type Tolerance } from './helpers/compare.js';

const DIR = 'test/fixtures/metrics/';

interface Expected {
  seed: number;
  shape: [number, number, number, number];
  samples: Record<SampledMetric, number>;
  draws: SampleDraws;
  values: Record<string, number>[];
  min_top1_margin: number;
  other_seed: number;
  other_draws: SampleDraws;
}
const expected = JSON.parse(readFileSync(`${DIR}expected.json`, 'utf8')) as Expected;
const [B, , H, W] = expected.shape;

/** The fixture's network: conv 3x3 -> relu -> conv 3x3 stride 2 -> relu -> global
 * average pool -> linear. */
class TinyCnn implements Classifier {
  constructor(private readonly w: Map<string, Tensor>) {}
  forward(x: Dual): Dual {
    const p = (k: string) => this.w.get(k)!;
    let h = ops.relu(ops.conv2d(x, p('conv1.weight'), p('conv1.bias'), { padding: 1 }));
    h = ops.relu(ops.conv2d(h, p('conv2.weight'), p('conv2.bias'), { stride: 2, padding: 1 }));
    return ops.linear(ops.mean(h, [2, 3]), p('fc.weight'), p('fc.bias'));
  }
}

const toTensor = (t: HostTensor) => Tensor.fromData(t.data, t.shape);

let model: TinyCnn;
let io: Map<string, HostTensor>;
let images: Tensor;

beforeAll(async () => {
  await init();
  const weights = (await loadSafetensors(`${DIR}tiny_cnn.safetensors`)).tensors;
  model = new TinyCnn(new Map([...weights].map(([k, t]) => [k, toTensor(t)])));
  io = (await loadSafetensors(`${DIR}io.safetensors`)).tensors;
  images = toTensor(io.get('images')!);
});
afterAll(async () => {
  await shutdown();
});

async function readAndFree(t: Tensor): Promise<Float32Array> {
  try {
    return await t.read();
  } finally {
    t.dispose();
  }
}

/** Transformed images, float32 GPU ops against the float64 reference (f32 inputs cast
 * up), as a fraction of the largest pixel (|x| <= 3). Translations are short sums of
 * products (<= 36 taps, weights summing to 1): a few f32 ulps, 3.4e-7 at worst on
 * lavapipe, bound 2e-6. The rotation sums 169 taps of an f32-rounded filter, then
 * interpolates: 9.2e-7 seen, bound 5e-6. Integer shifts copy values: exact. */
const IMAGE_TOL: Record<SampledMetric, Tolerance> = {
  eq_t: { rtol: 0, atol: 0 },
  eq_t_frac: { rtol: 0, atol: 2e-6 },
  eq_r: { rtol: 0, atol: 5e-6 },
  trans_x_sample: { rtol: 0, atol: 2e-6 },
  trans_y_sample: { rtol: 0, atol: 2e-6 },
  rotate_sample: { rtol: 0, atol: 2e-6 },
};

/** Metric values: means of squared differences of probabilities (|d| ~ 1e-2 here). A
 * float32 forward gets p to ~1e-7 relative, and p(x') and p(x) err alike, so d^2 agrees
 * to ~1e-6 relative (1.3e-6 at worst on lavapipe, eq_r). 2e-5 leaves 15x for other
 * adapters' summation orders. */
const METRIC_TOL: Tolerance = { rtol: 2e-5, atol: 0 };

describe('sample-based metrics (SPEC 5.5)', () => {
  it('draws the fixture parameters exactly (mulberry32 streams, same float64 arithmetic as the Python reference)', () => {
    expect(drawSamples(expected.seed, H, W, expected.samples)).toEqual(expected.draws);
    expect(drawSamples(expected.other_seed, H, W, expected.samples)).toEqual(expected.other_draws);
  });

  it('the tiny CNN matches its PyTorch logits', async () => {
    const logits = await readAndFree(tidy(() => model.forward({ primal: images, tangents: null }).primal));
    expectClose(logits, io.get('logits')!.data, { rtol: 1e-5, atol: 1e-5 }, 'logits');
  });

  it('each transform of the first draw matches the float64 reference image', async () => {
    const d = expected.draws;
    const got: Record<SampledMetric, Tensor> = {
      eq_t: integerTranslate(images, d.eq_t[0]!.dx, d.eq_t[0]!.dy),
      eq_t_frac: fractionalTranslate(images, d.eq_t_frac[0]!.tx, d.eq_t_frac[0]!.ty),
      eq_r: fractionalRotate(images, d.eq_r[0]!),
      trans_x_sample: translateSample(images, d.trans_x_sample[0]!, 'x'),
      trans_y_sample: translateSample(images, d.trans_y_sample[0]!, 'y'),
      rotate_sample: rotateSample(images, d.rotate_sample[0]!),
    };
    for (const m of SAMPLED_METRICS) {
      expect(got[m].shape).toEqual(expected.shape);
      expectClose(await readAndFree(got[m]), io.get(`${m}.0`)!.data, IMAGE_TOL[m], m);
    }
  });

  it("StyleGAN3's rotation filter matches the FFT construction", () => {
    // float64 direct circular sums vs float64 FFTs, stored as f32: half an ulp of the
    // largest tap (0.055) is 1.9e-9, 3.5e-8 of it; 1.7e-9 seen
    const f = rotationFilter(expected.draws.eq_r[0]!);
    expectClose(f, io.get('rotation_filter.0')!.data, { rtol: 0, atol: 1e-7 }, 'rotation filter');
    // each of the 16 polyphase components sums to 1/16
    for (let r = 0; r < 4; r++) {
      for (let s = 0; s < 4; s++) {
        let sum = 0;
        for (let u = r; u < 47; u += 4) for (let v = s; v < 47; v += 4) sum += f[u * 47 + v]!;
        expect(sum).toBeCloseTo(1 / 16, 12);
      }
    }
  });

  it('every metric matches the PyTorch float64 reference', async () => {
    expect(expected.min_top1_margin).toBeGreaterThan(1e-3); // top-1 cannot flip in float32
    const { values, draws } = await sampleMetrics(model, images, { seed: expected.seed, samples: expected.samples });
    expect(draws).toEqual(expected.draws);
    expect(values).toHaveLength(B);
    for (let b = 0; b < B; b++) {
      expect(Object.keys(values[b]!).sort()).toEqual([...SAMPLE_METRIC_COLUMNS].sort());
      for (const col of SAMPLE_METRIC_COLUMNS) {
        if (col.startsWith('consistency')) {
          expect(values[b]![col], `image ${b} ${col}`).toBe(expected.values[b]![col]);
        } else {
          expectClose([values[b]![col]!], [expected.values[b]![col]!], METRIC_TOL, `image ${b} ${col}`);
        }
      }
    }
    // the fixture exercises both outcomes of consistency
    const cons = expected.values.flatMap((v) => Object.entries(v).filter(([k]) => k.startsWith('consistency')).map(([, x]) => x));
    expect(cons).toContain(0);
    expect(cons).toContain(1);
  });

  it('is reproducible from its seed, and another seed draws other transforms', async () => {
    const samples = 2;
    const a = await sampleMetrics(model, images, { seed: 11, samples });
    const again = await sampleMetrics(model, images, { seed: 11, samples });
    const other = await sampleMetrics(model, images, { seed: 12, samples });
    expect(again.draws).toEqual(a.draws);
    expect(again.values).toEqual(a.values);
    for (const m of SAMPLED_METRICS) {
      expect(a.draws[m]).toHaveLength(samples);
      if (m !== 'eq_t') expect(other.draws[m]).not.toEqual(a.draws[m]); // eq_t's integer shifts may coincide
      expect(other.values[0]![m]).not.toBe(a.values[0]![m]);
    }
    // an image's values do not depend on its batch neighbours
    const alone = tidy(() => ops.slice(images, [1], [2]).primal);
    const single = await sampleMetrics(model, alone, { seed: 11, samples });
    alone.dispose();
    for (const col of SAMPLE_METRIC_COLUMNS) {
      expectClose([single.values[0]![col]!], [a.values[1]![col]!], { rtol: 1e-5, atol: 0 }, `image 1 alone: ${col}`);
    }
    // a metric's draws do not depend on the other metrics' counts
    const more = drawSamples(11, H, W, { eq_t: 9 });
    expect(more.eq_r.slice(0, samples)).toEqual(a.draws.eq_r);
    expect(more.eq_t.slice(0, samples)).toEqual(a.draws.eq_t);
  });

  it('fixes the paper defects: rotate_sample angles are non-zero, eq_t shifts are whole pixels up to W/8', async () => {
    const d = drawSamples(3, H, W, 50);
    for (const a of d.rotate_sample) {
      expect(a).not.toBe(0);
      expect(Math.abs(a)).toBeLessThanOrEqual(ROTATE_SAMPLE_ETA);
    }
    expect(Math.max(...d.rotate_sample.map(Math.abs))).toBeGreaterThan(ROTATE_SAMPLE_ETA / 2);
    for (const { dx, dy } of d.eq_t) {
      expect(Number.isInteger(dx) && Number.isInteger(dy)).toBe(true);
      expect(Math.max(Math.abs(dx), Math.abs(dy))).toBeLessThanOrEqual(W / 8);
    }
    // every shift in [-W/8, W/8] occurs: rounding to 1/W, not 1/(H W)
    expect(new Set(d.eq_t.map((s) => s.dx)).size).toBe(W / 4 + 1);
    for (const v of expected.values) expect(v.rotate_sample).toBeGreaterThan(0);
  });

  it('fractional translation by whole pixels is the integer translation; zero counts skip a metric', async () => {
    const frac = await readAndFree(fractionalTranslate(images, 2, -1));
    const int = await readAndFree(integerTranslate(images, 2, -1));
    expectClose(frac, int, { rtol: 0, atol: 1e-6 }, 'Lanczos-3 at an integer shift');
    const { values } = await sampleMetrics(model, images, { seed: 1, samples: { eq_t: 0, eq_t_frac: 0, eq_r: 0, trans_x_sample: 1, trans_y_sample: 0, rotate_sample: 0 } });
    expect(values[0]!.eq_r).toBeNaN();
    expect(values[0]!.trans_x_sample).toBeGreaterThan(0);
    await expect(sampleMetrics(model, images, { seed: -1 })).rejects.toThrow(LeeError);
    await expect(sampleMetrics(model, images, { seed: 1, samples: 1.5 })).rejects.toThrow(LeeError);
  });
});
