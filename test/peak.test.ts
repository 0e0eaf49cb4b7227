import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, init, runtime, shutdown } from '../engine/index.js';
import { PEAK_VARIANTS, peakFlopsPerThread, peakIterations, peakKernel, type PeakVariant } from '../shaders/peak.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

/** Thread g's output in float64: every chain's recurrence a <- 0.999 a + 1e-4, run
 * `steps` times, then summed as dot(a, 0.999). */
function reference(seed: number, g: number, chains: number, steps: number): number {
  const s = Math.fround(seed + Math.fround(g * 1e-7));
  let out = 0;
  for (let i = 0; i < chains; i++) {
    for (let a of [s + i, s - (i + 1), s * 0.5 + i, s + 0.25]) {
      for (let n = 0; n < steps; n++) a = a * 0.999 + 1e-4;
      out += a * 0.999;
    }
  }
  return out;
}

describe('peak kernel', () => {
  // `lee bench` divides FLOPs by time: the kernel must do exactly the FMAs it counts
  it.each(PEAK_VARIANTS.map((v) => [JSON.stringify(v), v] as [string, PeakVariant]))('%s runs the FMAs its FLOP count claims', async (_, v) => {
    const iterations = 4;
    const threads = v.wg * 2;
    const seed = Tensor.fromData([0.5], [1]);
    const out = Tensor.empty([threads]);
    runtime().dispatch({ key: `peak-test:${JSON.stringify(v)}`, source: () => peakKernel(iterations, v), inputs: [seed.buffer], outputs: [out.buffer], workgroups: [2] });
    const got = await out.read();
    // per chain, vec4 FMAs of 2 flops a lane: steps = FLOPs / (chains * 4 lanes * 2)
    const steps = peakFlopsPerThread(iterations, v) / (v.chains * 8);
    for (const g of [0, 1, threads - 1]) {
      const want = reference(0.5, g, v.chains, steps);
      expect(Math.abs(got[g]! - want)).toBeLessThan(1e-5 * Math.abs(want));
      // one step more or fewer is far outside that
      expect(Math.abs(reference(0.5, g, v.chains, steps + 1) - want)).toBeGreaterThan(1e-4 * Math.abs(want));
    }
    seed.dispose();
    out.dispose();
  });

  it('gives every variant the same FLOPs per thread', () => {
    for (const v of PEAK_VARIANTS) expect(peakFlopsPerThread(peakIterations(v), v)).toBe(16384);
  });
});
