import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { convitSpecs, type ConVit } from '../models/convit.js';
import { FIXTURES, runParity } from './helpers/parity.js';
import { expectTimmLeaves, expectTimmPreprocessing, familyFixtures } from './helpers/family.js';
import { expectLieParity, lieFixtures } from './helpers/lie.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';

// convit_mini: two GPSA blocks on the 4x4 patch grid, then the class token joins for one
// MHSA block (timm's local_up_to_layer = 2)
const convits = familyFixtures(convitSpecs);
const names = convits.map((f) => f.name);

describe('ConViT', () => {
  it('covers the fixture', () => {
    expect(names).toEqual(['convit_mini']);
  });

  describe('structure (no GPU)', () => {
    it.each(convits.map((f) => [f.name, f] as const))("%s: timm's state_dict keys and leaf modules; heads and GPSA blocks from the weights", async (_, f) => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as ConVit;
      expectTimmLeaves(model, tensors, f);
      expect(model.config).toMatchObject({ numHeads: 4, localUpToLayer: 2, depth: 3, dim: 48, tokens: 16, qkvBias: false });
      expect(model.blocks.map((b) => b.attn.type)).toEqual(['GPSA', 'GPSA', 'MHSA']);
    });

    it('default configurations have timm parameter counts', () => {
      const counts: Record<string, number> = { convit_tiny: 5_710_512, convit_small: 27_777_322, convit_base: 86_540_040 };
      for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      expectTimmPreprocessing(convitSpecs);
    });
  });

  runParity(convits);
  for (const f of lieFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: all ten Lie derivatives in one pass, bilinear and bicubic`, async () => {
      await expectLieParity(f);
    });
  }
  for (const f of layerwiseFixtures((l) => names.includes(l.name))) {
    it(`${f.name}: timm's layers (pos_embed, GPSA with its positional gating as one layer), per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
