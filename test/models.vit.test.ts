import { describe, it, expect } from 'vitest';
import { LeeError, Tensor, dual, tidy } from '../engine/index.js';
import { loadSafetensors, type HostTensor } from '../engine/safetensors.js';
import { disposeWeights, loadWeights, nameModules, namedModules, namedParams, type Module } from '../models/module.js';
import { modelSpec, parameterCount } from '../models/registry.js';
import { vitSpecs } from '../models/vit.js';
import { relL2 } from './helpers/compare.js';
import { FIXTURES, expectLogitsClose, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { Rng } from './helpers/random.js';

/** The manifest also lists each fixture's leaf modules (in timm's call order) and the
 * ones timm builds but never calls. */
type WithLeaves = Fixture & { leaf_modules: { name: string; type: string }[]; uncalled_leaf_modules: string[] };

const vits = fixtures((f) => f.name === 'vit_mini' || f.name === 'deit_distilled_mini') as WithLeaves[];
const vitMini = vits.filter((f) => f.name === 'vit_mini');
const deitMini = vits.filter((f) => f.name === 'deit_distilled_mini');

/** The fixture's timm kwargs (its safetensors metadata). */
async function timmKwargs(f: Fixture): Promise<{ num_heads: number }> {
  const { metadata } = await loadSafetensors(`${FIXTURES}${f.weights}`);
  return JSON.parse(metadata.kwargs!) as { num_heads: number };
}

/** Seeded weights at a trained-like scale: matrices and kernels uniform with std
 * 1/sqrt(fan_in), norm weights ~1, biases and tokens small, so activations stay O(1). */
function randomWeights(model: Module, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [key, p] of namedParams(model)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const fanIn = p.shape.slice(1).reduce((a, b) => a * b, 1);
    const token = key === 'cls_token' || key === 'dist_token' || key === 'pos_embed';
    const [scale, shift] = token ? [0.02, 0] : p.shape.length > 1 ? [Math.sqrt(3 / fanIn), 0] : key.endsWith('bias') ? [0.02, 0] : [0.1, 1];
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = shift + scale * (2 * rng.uniform() - 1);
    out.set(key, { shape: [...p.shape], data, dtype: 'F32' });
  }
  return out;
}

describe('ViT / DeiT', () => {
  // vit_mini is vit_tiny_patch16_224 narrowed to width 48 with tiny's 3 heads, so the
  // registry's build (heads from the name) is the whole story
  runParity(vitMini);

  it('vit_mini uses the architecture default heads', async () => {
    expect((await timmKwargs(vitMini[0]!)).num_heads).toBe(3);
  });

  // deit_distilled_mini has width 64 and 4 heads: the heads are not in a state_dict,
  // so the build takes them from the fixture's timm kwargs
  for (const f of deitMini) {
    it(`${f.name} (${f.arch}) with its 4 heads: logits match timm and the JVP matches torch forward-mode`, async () => {
      const weights = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const io = (await loadSafetensors(`${FIXTURES}${f.io}`)).tensors;
      const numHeads = (await timmKwargs(f)).num_heads;
      expect(numHeads).toBe(4);
      const spec = vitSpecs.find((s) => s.name === f.arch)!;
      const model = spec.build(weights.tensors, { numHeads });
      nameModules(model);
      loadWeights(model, weights.tensors, f.weights);
      const input = io.get('input')!;
      const tangent = io.get('tangent')!;
      const x = Tensor.fromData(input.data, input.shape);
      const t = Tensor.fromData(tangent.data, [1, ...tangent.shape]);
      const out = tidy(() => model.forward(dual(x, t)));
      const logits = await out.primal.read();
      const jvp = await out.tangents!.read();
      expectLogitsClose(logits, io.get('logits')!.data, `${f.name} logits`);
      expect(relL2(jvp, io.get('jvp_logits')!.data), `${f.name} JVP relative L2`).toBeLessThanOrEqual(1e-3);
      for (const v of [x, t, out.primal, out.tangents!]) v.dispose();
      disposeWeights(model);
    });

    it(`${f.name}: the default 3 heads of deit_tiny do not split width 64, and the error says why`, async () => {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      expect(() => modelSpec(f.arch).build(tensors)).toThrow(LeeError);
      expect(() => modelSpec(f.arch).build(tensors)).toThrow(/does not record the number of heads/);
    });
  }

  it("the module tree has timm's state_dict keys and leaf modules", async () => {
    for (const f of vits) {
      const { tensors } = await loadSafetensors(`${FIXTURES}${f.weights}`);
      const model = vitSpecs.find((s) => s.name === f.arch)!.build(tensors, { numHeads: (await timmKwargs(f)).num_heads });
      nameModules(model);
      expect([...namedParams(model).keys()].sort()).toEqual([...tensors.keys()].sort());
      const timm = [...f.leaf_modules.map((l) => `${l.name} ${l.type}`)];
      const ours = namedModules(model)
        .filter(([, m]) => namedModules(m).length === 0)
        .map(([name, m]) => `${name} ${m.type}`);
      const uncalled = ours.filter((l) => f.uncalled_leaf_modules.includes(l.split(' ')[0]!));
      expect(uncalled.length, `${f.name}: uncalled leaves`).toBe(f.uncalled_leaf_modules.length);
      expect(new Set(ours.filter((l) => !uncalled.includes(l)))).toEqual(new Set(timm));
    }
  });

  it('default configurations have timm parameter counts', () => {
    // timm 0.9.16 defaults (vit_large_patch32_224's default tag has no classifier)
    const counts: Record<string, number> = {
      vit_tiny_patch16_224: 5_717_416,
      vit_small_patch16_224: 22_050_664,
      vit_small_patch32_224: 22_878_952,
      vit_base_patch16_224: 86_567_656,
      vit_base_patch32_224: 88_224_232,
      vit_large_patch16_224: 304_326_632,
      vit_large_patch32_224: 305_510_400,
      deit_tiny_patch16_224: 5_717_416,
      deit_small_patch16_224: 22_050_664,
      deit_base_patch16_224: 86_567_656,
      deit_tiny_distilled_patch16_224: 5_910_800,
      deit_small_distilled_patch16_224: 22_436_432,
      deit_base_distilled_patch16_224: 87_338_192,
    };
    expect(vitSpecs.map((s) => s.name).sort()).toEqual(Object.keys(counts).sort());
    for (const [name, n] of Object.entries(counts)) expect(parameterCount(modelSpec(name).build()), name).toBe(n);
  });

  it('vit_base_patch16_224 runs at 224 px with random weights', async () => {
    const model = modelSpec('vit_base_patch16_224').build();
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
    // 17.6 GFLOP on a software adapter: minutes on a busy 2-core machine
  }, 900_000);
});
