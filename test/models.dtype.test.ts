import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, Tensor, tidy, dual } from '../engine/index.js';
import { encodeSafetensors, loadSafetensors, type SafetensorsDType } from '../engine/safetensors.js';
import { createModel } from '../models/registry.js';
import { disposeWeights } from '../models/module.js';
import { FIXTURES, fixtures } from './helpers/parity.js';
import { relL2 } from './helpers/compare.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

/** Half-precision checkpoints load converted to f32; their logits differ from the f32
 * ones only by the weights' rounding: about 2^-11 relative for F16, 2^-8 for BF16. */
describe('F16 and BF16 weight files', () => {
  const f = fixtures((x) => x.name === 'mixer_mini')[0]!;
  const bounds: [SafetensorsDType, number][] = [
    ['F16', 2e-3],
    ['BF16', 2e-2],
  ];
  for (const [dtype, bound] of bounds) {
    it(`${dtype}: ${f.name} loads and its logits agree to the dtype's precision`, async () => {
      const full = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const io = (await loadSafetensors(`${FIXTURES}${f.io}`)).tensors;
      const half: Record<string, { shape: number[]; data: Float32Array; dtype: SafetensorsDType }> = {};
      for (const [k, t] of full.tensors) half[k] = { shape: t.shape, data: t.data, dtype };
      const file = await loadSafetensors(encodeSafetensors(half));
      for (const [k, t] of file.tensors) expect(t.dtype, k).toBe(dtype);
      const model = createModel(f.arch, file.tensors, `${dtype} weights`);
      const input = io.get('input')!;
      const x = Tensor.fromData(input.data, input.shape);
      const y = tidy(() => model.forward(dual(x)).primal);
      const logits = await y.read();
      const err = relL2(logits, io.get('logits')!.data);
      expect(err).toBeLessThan(bound);
      // and it is really rounded: not the f32 result
      expect(err).toBeGreaterThan(bound / 1000);
      x.dispose();
      y.dispose();
      disposeWeights(model);
    });
  }
});
