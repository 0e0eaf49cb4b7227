import { describe, it, expect } from 'vitest';
import { loadSafetensors } from '../engine/safetensors.js';
import { nameModules } from '../models/module.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import type { ConvNeXt } from '../models/convnext.js';
import { FIXTURES, expectTimmTree, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { expectFullSizeLogits } from './helpers/fullsize.js';

/** The manifest also lists each fixture's leaf modules in timm's call order. */
type WithLeaves = Fixture & { leaf_modules: { name: string; type: string }[] };

// convnext_mini (Linear MLP, channels-last norm) and convnext_convmlp_mini (1x1 convs,
// LayerNorm2d): same function, weights of different rank
const convnexts = fixtures((f) => f.arch.startsWith('convnext_')) as WithLeaves[];

describe('ConvNeXt', () => {
  runParity(convnexts);

  it("the module tree has timm's state_dict keys and leaf modules", async () => {
    expect(convnexts.map((f) => f.name).sort()).toEqual(['convnext_convmlp_mini', 'convnext_mini']);
    for (const f of convnexts) {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors) as ConvNeXt;
      nameModules(model);
      expect(model.config.convMlp, f.name).toBe(f.name === 'convnext_convmlp_mini');
      expect(model.config.depths).toEqual([1, 1, 2, 1]);
      expect(model.config.dims).toEqual([16, 32, 48, 64]);
      expectTimmTree(model, tensors.keys(), f.leaf_modules);
    }
  });

  it('default configurations have timm parameter counts', () => {
    // timm 0.9.16, num_classes 1000
    const counts: Record<string, number> = {
      convnext_atto: 3_695_520,
      convnext_femto: 5_217_784,
      convnext_pico: 9_045_672,
      convnext_nano: 15_593_560,
      convnext_tiny: 28_589_128,
      convnext_small: 50_223_688,
      convnext_base: 88_591_464,
    };
    for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
  });

  it('convnext_tiny at 224 px matches timm on seeded random weights', async () => {
    await expectFullSizeLogits('convnext_tiny');
  });
});
