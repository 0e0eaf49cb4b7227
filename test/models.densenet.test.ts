import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { nameModules, namedModules } from '../models/module.js';
import { BlurPool2d } from '../models/layers.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { densenetSpecs, type DenseNet } from '../models/densenet.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// densenet_mini (7x7 stem, growth 8, blocks 2-2-2-1) and densenetblur_mini (densenetblur121d:
// three 3x3 stem convs, blurred stem pool, blocks 1-2-1-1)
const densenets = familyFixtures(densenetSpecs);
const names = densenets.map((f) => f.name);

describe('DenseNet', () => {
  it('covers both fixtures', () => {
    expect(names.sort()).toEqual(['densenet_mini', 'densenetblur_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(densenets.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, sizes read back", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as DenseNet;
      expectTimmLeaves(model, tensors, f);
      const { growth_rate, block_config, bn_size } = f.kwargs as { growth_rate?: number; block_config?: number[]; bn_size?: number };
      expect(model.config.growth).toBe(growth_rate);
      expect(model.config.blocks).toEqual(block_config);
      expect(model.config.bottleneck).toBe(bn_size! * growth_rate!);
    });

    it('densenetblur121d blurs its stem pool only, with no state_dict entries', () => {
      const model = modelSpec('densenetblur121d').build();
      nameModules(model);
      expect(namedModules(model).filter(([, m]) => m instanceof BlurPool2d).map(([n]) => n)).toEqual(['features.pool0.1']);
    });

    it('default configurations have timm parameter counts', () => {
      // timm 0.9.16, num_classes 1000
      const counts: Record<string, number> = {
        densenet121: 7_978_856,
        densenet161: 28_681_000,
        densenet169: 14_149_480,
        densenet201: 20_013_928,
        tv_densenet121: 7_978_856,
        densenetblur121d: 7_998_088,
      };
      expect(densenetSpecs.map((s) => s.name).sort()).toEqual(Object.keys(counts).sort());
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(densenetSpecs);
    });
  });

  // logits and JVP (runParity opens the device for this describe), Lie derivatives, layerwise
  runParity(densenets);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (BatchNormAct2d norms, pools), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
