import { describe, it, expect } from 'vitest';
import { Tensor, dual } from '../engine/index.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { resmlpSpecs, type ResMlp } from '../models/resmlp.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// resmlp_mini: timm's MlpMixer with ResBlock and Affine, 2 blocks on a 4x4 token grid
const resmlps = familyFixtures(resmlpSpecs);
const names = resmlps.map((f) => f.name);

describe('ResMLP', () => {
  it('covers the fixture', () => {
    expect(names).toEqual(['resmlp_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(resmlps.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, sizes from the weights", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as ResMlp;
      expectTimmLeaves(model, tensors, f);
      expect(model.config).toEqual({ patch: 8, dim: 48, depth: 2, tokens: 16, hidden: 192, numClasses: 10 });
    });

    it('default configurations have timm parameter counts; the distilled and 22k names are the same networks', () => {
      // timm 0.9.16, num_classes 1000
      const counts: Record<string, number> = {
        resmlp_12_224: 15_350_872,
        resmlp_24_224: 30_020_680,
        resmlp_36_224: 44_690_488,
        resmlp_big_24_224: 129_138_280,
        resmlp_12_distilled_224: 15_350_872,
        resmlp_big_24_224_in22ft1k: 129_138_280,
      };
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(resmlpSpecs);
    });

  });

  runParity(resmlps);
  it('an input of the wrong resolution is a clear error', () => {
    const model = modelSpec('resmlp_12_224').build();
    const x = Tensor.fromData(new Float32Array(3 * 64 * 64), [1, 3, 64, 64]);
    expect(() => model.forward(dual(x))).toThrow(/expect 196 patches of 16 px \(a 224x224 input\)/);
    x.dispose();
  });
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (linear_tokens on the token axis, the token mean included), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
