import { describe, it, expect } from 'vitest';
import { Tensor, dual } from '../engine/index.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { nameModules } from '../models/module.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { FIXTURES, expectTimmTree, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { expectFullSizeLogits } from './helpers/fullsize.js';

/** The manifest also lists each fixture's leaf modules in timm's call order. */
type WithLeaves = Fixture & { leaf_modules: { name: string; type: string }[] };

const mixers = fixtures((f) => f.arch.startsWith('mixer_')) as WithLeaves[];

describe('MLP-Mixer', () => {
  runParity(mixers);

  it("the module tree has timm's state_dict keys and leaf modules", async () => {
    for (const f of mixers) {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = modelSpec(f.arch).build(tensors);
      nameModules(model);
      expectTimmTree(model, tensors.keys(), f.leaf_modules);
    }
  });

  it('default configurations have timm parameter counts', () => {
    // timm 0.9.16, num_classes 1000
    const counts: Record<string, number> = {
      mixer_s32_224: 19_104_624,
      mixer_s16_224: 18_528_264,
      mixer_b32_224: 60_293_428,
      mixer_b16_224: 59_880_472,
      mixer_l16_224: 208_196_168,
    };
    for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
  });

  it('an input of the wrong resolution is a clear error', () => {
    const model = modelSpec('mixer_s32_224').build();
    const x = Tensor.fromData(new Float32Array(3 * 64 * 64), [1, 3, 64, 64]);
    expect(() => model.forward(dual(x))).toThrow(/expect 49 patches of 32 px \(a 224x224 input\)/);
    x.dispose();
  });

  it('mixer_b16_224 at 224 px matches timm on seeded random weights', async () => {
    await expectFullSizeLogits('mixer_b16_224');
  });
});
