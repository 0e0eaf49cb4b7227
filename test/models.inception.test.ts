import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { namedParams } from '../models/module.js';
import { buildModel, modelSpec, parameterCount } from '../models/registry.js';
import { inceptionV3Specs, type InceptionV3 } from '../models/inception_v3.js';
import { inceptionV4Specs, type InceptionV4 } from '../models/inception_v4.js';
import { inceptionResnetV2Specs, type InceptionResnetV2 } from '../models/inception_resnet_v2.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// timm's Inception v3 (its repeated blocks replaced by Identity), v4 and Inception-ResNet v2
// (one block of each kind), every conv 16x narrower than timm's hardcoded widths
// (scripts/gen_model_fixtures.py), at 107 px
const specs = [...inceptionV3Specs, ...inceptionV4Specs, ...inceptionResnetV2Specs];
const inceptions = familyFixtures(specs);
const names = inceptions.map((f) => f.name);

describe('Inception', () => {
  it('covers the three architectures', () => {
    expect(names.sort()).toEqual(['inception_resnet_v2_mini', 'inception_v3_mini', 'inception_v4_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(inceptions.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules, widths and depths from the weights", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors);
      expectTimmLeaves(model, tensors, f);
      if (f.arch === 'inception_v3') expect((model as InceptionV3).Mixed_6c.type).toBe('Identity');
      if (f.arch === 'inception_v4') expect((model as InceptionV4).config.blocks).toEqual(['A', 'RA', 'B', 'RB', 'C']);
      if (f.arch === 'inception_resnet_v2') expect((model as InceptionResnetV2).config.repeats).toEqual([1, 1, 1]);
    });

    it('default configurations have timm parameter counts', () => {
      // timm 0.9.16, num_classes 1000
      const counts: Record<string, number> = { inception_v3: 23_834_568, inception_v4: 42_679_816, inception_resnet_v2: 55_843_464 };
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config (299 px, Inception mean/std)', () => {
      expectTimmPreprocessing(specs);
    });

    it("torchvision's checkpoint keeps its auxiliary classifier's weights (never called in eval)", () => {
      const shapes = new Map([...namedParams(modelSpec('inception_v3').build())].map(([k, p]) => [k, [...p.shape]]));
      const bn = (p: string, c: number) => ['weight', 'bias', 'running_mean', 'running_var'].map((k): [string, number[]] => [`${p}.bn.${k}`, [c]]);
      const aux: [string, number[]][] = [
        ['AuxLogits.conv0.conv.weight', [128, 768, 1, 1]],
        ...bn('AuxLogits.conv0', 128),
        ['AuxLogits.conv1.conv.weight', [768, 128, 5, 5]],
        ...bn('AuxLogits.conv1', 768),
        ['AuxLogits.fc.weight', [1000, 768]],
        ['AuxLogits.fc.bias', [1000]],
      ];
      const weights = new Map([...shapes, ...aux].map(([k, shape]) => [k, { shape, data: new Float32Array(0), dtype: 'F32' as const }]));
      expect(parameterCount(buildModel('inception_v3', weights))).toBe(23_834_568 + 3_326_696);
    });
  });

  // logits and JVP (runParity opens the device for this describe), Lie derivatives, layerwise
  runParity(inceptions);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (BatchNormAct2d norms and v3's functional pools included), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
