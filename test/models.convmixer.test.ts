import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { convmixerSpecs, type ConvMixer } from '../models/convmixer.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// convmixer_mini: GELU, 9x9 depthwise (convmixer_1536_20's); convmixer_relu_mini: ReLU,
// 7x7 (convmixer_768_32's). The activation is the architecture's: weights do not show it.
const mixers = familyFixtures(convmixerSpecs);
const names = mixers.map((f) => f.name);

describe('ConvMixer', () => {
  it('covers both fixtures', () => {
    expect(names.sort()).toEqual(['convmixer_mini', 'convmixer_relu_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(mixers.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, activation by name", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as ConvMixer;
      expectTimmLeaves(model, tensors, f);
      const k = f.kwargs as { dim: number; depth: number; kernel_size: number; patch_size: number };
      expect(model.config).toMatchObject({ dim: k.dim, depth: k.depth, kernel: k.kernel_size, patch: k.patch_size });
      expect(model.config.act).toBe(f.name === 'convmixer_mini' ? 'gelu' : 'relu');
    });

    it('default configurations have timm parameter counts', () => {
      const counts: Record<string, number> = { convmixer_1536_20: 51_625_960, convmixer_768_32: 21_110_248, convmixer_1024_20_ks9_p14: 24_383_464 };
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(convmixerSpecs);
    });
  });

  runParity(mixers);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers, per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
