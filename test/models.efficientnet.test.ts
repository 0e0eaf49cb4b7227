import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { efficientnetSpecs, type EfficientNet } from '../models/efficientnet.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// efficientnet_mini (timm's _gen_efficientnet for b0 at width 0.25, depth 0.5: SiLU,
// squeeze-excitation, 3x3 and 5x5 depthwise) and mobilenetv2_mini (_gen_mobilenet_v2 for
// mobilenetv2_110d at width 0.25, depth 0.5, fixed stem and head: ReLU6, no SE)
const effnets = familyFixtures(efficientnetSpecs);
const names = effnets.map((f) => f.name);

describe('EfficientNet and MobileNetV2', () => {
  it('covers both fixtures', () => {
    expect(names.sort()).toEqual(['efficientnet_mini', 'mobilenetv2_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(effnets.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, sizes read back", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as EfficientNet;
      expectTimmLeaves(model, tensors, f);
      // timm's depth scaling: ceil(repeats * 0.5), first and last stage fixed for the `d` variant
      const depths = model.config.stages.map((s) => s.length);
      expect(depths).toEqual(f.name === 'efficientnet_mini' ? [1, 1, 1, 2, 2, 2, 1] : [1, 1, 2, 2, 2, 2, 1]);
      expect(model.config.stages.flat().some((b) => b.se > 0)).toBe(f.name === 'efficientnet_mini');
    });

    it('default configurations have timm parameter counts (width and depth multipliers, d variants)', () => {
      // timm 0.9.16, num_classes 1000
      const counts: Record<string, number> = {
        efficientnet_b0: 5_288_548,
        efficientnet_b1: 7_794_184,
        efficientnet_b2: 9_109_994,
        efficientnet_b3: 12_233_232,
        efficientnet_b4: 19_341_616,
        mobilenetv2_100: 3_504_872,
        mobilenetv2_110d: 4_516_520,
        mobilenetv2_120d: 5_831_144,
        mobilenetv2_140: 6_108_776,
      };
      expect(efficientnetSpecs.map((s) => s.name).sort()).toEqual(Object.keys(counts).sort());
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(efficientnetSpecs);
    });
  });

  // logits and JVP (runParity opens the device for this describe), Lie derivatives, layerwise
  runParity(effnets);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (BatchNormAct2d norms, SE pools), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
