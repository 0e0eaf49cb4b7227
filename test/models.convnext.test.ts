import { describe, it, expect } from 'vitest';
import { Tensor, dual, tidy } from '../engine/index.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { disposeWeights, loadWeights, nameModules, namedModules, namedParams } from '../models/module.js';
import { randomWeights } from '../models/init.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import type { ConvNeXt } from '../models/convnext.js';
import { FIXTURES, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { Rng } from './helpers/random.js';

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

  it('convnext_tiny runs at 224 px with random weights', async () => {
    const model = modelSpec('convnext_tiny').build();
    nameModules(model);
    loadWeights(model, randomWeights(model, 11));
    const rng = new Rng(12);
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
