import { describe, it, expect } from 'vitest';
import { Tensor, dual, tidy } from '../engine/index.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { disposeWeights, loadWeights, nameModules, namedModules, namedParams } from '../models/module.js';
import { randomWeights } from '../models/init.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { FIXTURES, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { Rng } from './helpers/random.js';

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
      expect([...namedParams(model).keys()].sort()).toEqual([...tensors.keys()].sort());
      const timm = f.leaf_modules.map((l) => `${l.name} ${l.type}`);
      const ours = namedModules(model)
        .filter(([, m]) => namedModules(m).length === 0)
        .map(([name, m]) => `${name} ${m.type}`);
      expect(new Set(ours)).toEqual(new Set(timm));
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

  it('mixer_b16_224 runs at 224 px with random weights', async () => {
    const model = modelSpec('mixer_b16_224').build();
    nameModules(model);
    loadWeights(model, randomWeights(model, 7));
    const rng = new Rng(8);
    const x = Tensor.fromData(Float32Array.from(rng.normals(3 * 224 * 224)), [1, 3, 224, 224]);
    const out = tidy(() => model.forward(dual(x)));
    expect(out.primal.shape).toEqual([1, 1000]);
    const logits = await out.primal.read();
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(Math.max(...logits.map(Math.abs))).toBeGreaterThan(0);
    x.dispose();
    out.primal.dispose();
    disposeWeights(model);
  });
});
