import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, runtime, Tensor, tidy, dual, ops } from '../engine/index.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { createModel } from '../models/registry.js';
import { Module, disposeWeights, nameModules } from '../models/module.js';
import type { Dual } from '../engine/dual.js';
import type { ImageSource } from '../lee/batches.js';
import { runE2E } from '../lee/e2e.js';
import { runLayerwise } from '../lee/layerwise.js';
import { runSampleMetrics } from '../lee/metrics.js';
import { FIXTURES, fixtureModel, fixtures } from './helpers/parity.js';

// GPU memory has an owner (STYLE 6): weights belong to their model, a buffer goes back
// to the pool it came from, and a run that fails part-way leaves nothing behind.

/** The model, failing on its `failAt`-th forward call, after its own work is done. */
class FailingAt extends Module {
  readonly type = 'FailingAt';
  calls = 0;
  constructor(
    readonly inner: Module,
    private readonly failAt: number,
  ) {
    super();
  }
  forward(x: Dual): Dual {
    const y = this.inner.forward(x);
    if (++this.calls === this.failAt) throw new Error(`injected failure in forward call ${this.calls}`);
    return y;
  }
}

/** `copies` copies of the fixture's images as a source, so a run has several batches. */
async function fixtureSource(io: string, copies: number): Promise<ImageSource> {
  const input = (await loadSafetensors(`${FIXTURES}${io}`)).tensors.get('input')!;
  const [n, , h, w] = input.shape as [number, number, number, number];
  const per = 3 * h * w;
  const all = new Float32Array(copies * n * per);
  for (let c = 0; c < copies; c++) all.set(input.data, c * n * per);
  return {
    names: Array.from({ length: copies * n }, (_, i) => `img${i}`),
    size: [h, w],
    load: async (start, end) => all.subarray(start * per, end * per),
  };
}

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

describe('weights belong to their model', () => {
  it('a model created inside tidy keeps its weights until disposeWeights', async () => {
    const f = fixtures((x) => x.name === 'resnet18_mini')[0]!;
    const weights = await loadSafetensors(`${FIXTURES}${f.weights}`);
    const io = (await loadSafetensors(`${FIXTURES}${f.io}`)).tensors;
    const pool = runtime().pool;
    const before = pool.liveBytes;
    const model = tidy(() => createModel(f.arch, weights.tensors, f.weights));
    const x = Tensor.fromData(io.get('input')!.data, io.get('input')!.shape);
    const out = tidy(() => model.forward(dual(x)).primal);
    const got = await out.read();
    const want = io.get('logits')!.data;
    const maxRef = Math.max(...Array.from(want, Math.abs));
    const maxDiff = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!)));
    expect(maxDiff).toBeLessThanOrEqual(1e-4 * maxRef + 1e-5);
    out.dispose();
    x.dispose();
    expect(pool.liveBytes).toBeGreaterThan(before);
    disposeWeights(model);
    expect(pool.liveBytes).toBe(before);
  });
});

describe('buffers return to the pool they came from', () => {
  it('a tensor disposed after shutdown, or after a re-open, does not throw nor touch the new pool', async () => {
    const old = Tensor.fromData([1, 2, 3], [3]);
    const view = old.reshape([3, 1]);
    const oldPool = runtime().pool;
    await shutdown();
    expect(() => old.dispose()).not.toThrow();
    await init();
    const pool = runtime().pool;
    expect(pool).not.toBe(oldPool);
    const fresh = Tensor.fromData([4, 5], [2]);
    const live = pool.liveBytes;
    expect(() => view.dispose()).not.toThrow();
    expect(pool.liveBytes).toBe(live);
    expect(Array.from(await ops.neg(fresh).primal.read())).toEqual([-4, -5]);
    fresh.dispose();
  });
});

describe('a run that fails part-way leaks nothing', () => {
  // resnet18_mini: two images per copy, batch 2, so the failure comes in batch 2 or 3
  const cases = [
    { name: 'runE2E', failAt: 2, run: (m: Module, s: ImageSource) => runE2E(m, s, { transforms: ['translate_x', 'rotate', 'saturate'], interp: 'bilinear', batch: 2 }) },
    { name: 'runLayerwise', failAt: 5, run: (m: Module, s: ImageSource) => runLayerwise(m, s, { transform: 'rotate', batch: 2, chunk: 8 }) },
    { name: 'runSampleMetrics', failAt: 40, run: (m: Module, s: ImageSource) => runSampleMetrics(m, s, { batch: 2, seed: 3, samples: 2 }) },
  ];
  for (const c of cases) {
    it(`${c.name}: the pool's live bytes return to their earlier value`, async () => {
      const { model, images, fixture } = await fixtureModel('resnet18_mini');
      images.dispose();
      const source = await fixtureSource(fixture.io, 3);
      const failing = new FailingAt(model, c.failAt);
      nameModules(failing);
      const pool = runtime().pool;
      const before = pool.liveBytes;
      await expect(c.run(failing, source)).rejects.toThrow(/injected failure/);
      expect(failing.calls).toBe(c.failAt);
      expect(pool.liveBytes).toBe(before);
      // and the model still works after the failure
      failing.calls = -1e9;
      await expect(c.run(failing, source)).resolves.toBeDefined();
      expect(pool.liveBytes).toBe(before);
      disposeWeights(model);
    });
  }
});
