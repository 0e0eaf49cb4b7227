import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { vggSpecs, type VGG } from '../models/vgg.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// vgg_bn_mini (BatchNorm2d, a 3x3 map: ConvMlp's adaptive pool up to 7x7) and vgg_mini (an
// 8x8 map: the 7x7 conv directly, a 2x2 output for the head's pool)
const vggs = familyFixtures(vggSpecs);
const names = vggs.map((f) => f.name);

describe('VGG', () => {
  it('covers both fixtures', () => {
    expect(names.sort()).toEqual(['vgg_bn_mini', 'vgg_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(vggs.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, cfg read back", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as VGG;
      expectTimmLeaves(model, tensors, f);
      const { cfg } = f.kwargs as { cfg?: (number | 'M')[] };
      expect(model.config.cfg).toEqual(cfg);
      expect(model.config.norm).toBe(f.name === 'vgg_bn_mini');
    });

    it('default configurations have timm parameter counts', () => {
      // timm 0.9.16, num_classes 1000
      const counts: Record<string, number> = {
        vgg11: 132_863_336,
        vgg11_bn: 132_868_840,
        vgg13: 133_047_848,
        vgg13_bn: 133_053_736,
        vgg16: 138_357_544,
        vgg16_bn: 138_365_992,
        vgg19: 143_667_240,
        vgg19_bn: 143_678_248,
      };
      expect(vggSpecs.map((s) => s.name).sort()).toEqual(Object.keys(counts).sort());
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(vggSpecs);
    });
  });

  // logits and JVP (runParity opens the device for this describe), Lie derivatives, layerwise
  runParity(vggs);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (pre_logits.pool included), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
