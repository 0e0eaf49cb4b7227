import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { disposeWeights } from '../models/module.js';
import { layerwise } from '../lee/layerwise.js';
import { GENERATORS } from '../lee/transforms.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { fixtureModel } from './helpers/parity.js';

// Properties the math gives without a reference: additivity (the chain rule telescopes,
// SPEC 5.3), independence of how layers are grouped into passes, and zero for layers
// that commute with the transform.
const ADDITIVITY = 1e-4;
const l2 = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

/** One fixture model per family (the two ConvNeXt layouts counted apart). */
const FAMILIES = ['resnet18_mini', 'vit_mini', 'mixer_mini', 'convnext_mini', 'convnext_convmlp_mini'];

describe('layerwise attribution: properties', () => {
  for (const name of FAMILIES) {
    it(`${name}: contributions sum to the end-to-end value for all ten generators`, async () => {
      const { model, images } = await fixtureModel(name);
      const failures: string[] = [];
      for (const gen of GENERATORS) {
        const r = await layerwise(model, images, { transform: gen });
        r.residual.forEach((res, b) => {
          if (!(res < ADDITIVITY)) failures.push(`${gen} image ${b}: ${res.toExponential(2)}`);
        });
        // a run that attributes nothing would pass the residual check trivially
        if (!(l2(r.lie) > 0)) failures.push(`${gen}: the end-to-end value is zero`);
      }
      images.dispose();
      disposeWeights(model);
      expect(failures).toEqual([]);
    });
  }

  it('bicubic sampling: additivity holds too', async () => {
    const { model, images } = await fixtureModel('resnet18_mini');
    for (const gen of ['rotate', 'scale'] as const) {
      const r = await layerwise(model, images, { transform: gen, interp: 'bicubic' });
      expect(Math.max(...r.residual), gen).toBeLessThan(ADDITIVITY);
    }
    images.dispose();
    disposeWeights(model);
  });

  it('the result does not depend on how many layers share a pass', async () => {
    const { model, images } = await fixtureModel('mixer_mini');
    const one = await layerwise(model, images, { transform: 'rotate', chunk: 1 });
    const all = await layerwise(model, images, { transform: 'rotate', chunk: 1000 });
    const total = one.contributions.reduce((a, c) => a + l2(c), 0);
    one.contributions.forEach((c, i) => {
      expect(l2(c.map((v, j) => v - all.contributions[i]![j]!)) / total, one.layers[i]!.name).toBeLessThan(1e-6);
    });
    images.dispose();
    disposeWeights(model);
  });

  it('exactly equivariant layers contribute numerically nothing under translation', async () => {
    // stride-1 1x1 convolutions and per-token linear layers commute with a translation;
    // computed anyway here (computeAll), they must come out numerically zero
    const cases: [string, RegExp][] = [
      ['resnet50_mini', /^layer1\.0\.(conv1|conv3)$/],
      ['vit_mini', /^blocks\.\d\.mlp\.(fc1|fc2)$/],
      ['mixer_mini', /^blocks\.\d\.mlp_channels\.(fc1|fc2)$/],
      ['convnext_mini', /^stages\.0\.blocks\.0\.mlp\.(fc1|fc2)$/],
      ['convnext_convmlp_mini', /^stages\.0\.blocks\.0\.mlp\.(fc1|fc2)$/],
    ];
    for (const [name, pattern] of cases) {
      const { model, images } = await fixtureModel(name);
      const r = await layerwise(model, images, { transform: 'translate_x', computeAll: true });
      const total = r.contributions.reduce((a, c) => a + l2(c), 0);
      const picked = r.layers.filter((l) => pattern.test(l.name));
      expect(picked.length, name).toBeGreaterThanOrEqual(2);
      for (const l of picked) expect(l2(r.contributions[l.order]!) / total, `${name} ${l.name}`).toBeLessThan(1e-5);
      for (const l of r.layers.filter((l) => l.zero)) expect(l2(r.contributions[l.order]!), `${name} ${l.name}`).toBe(0);
      // and the layers that are not equivariant do carry the total
      expect(r.layers.filter((l) => !pattern.test(l.name) && l2(r.contributions[l.order]!) / total > 1e-2).length, name).toBeGreaterThan(0);
      images.dispose();
      disposeWeights(model);
    }
  });

  // Layers that are one affine map per position (eval BatchNorm, 1x1 stride-1 convs,
  // per-token and channels-last Linear) commute with a spatial G, so they are zero by
  // construction and cost no tangent. The float64 fixtures, which compute every layer,
  // must agree; computed anyway, ours must too; under saturate they are computed.
  const COMMUTING: [string, RegExp][] = [
    ['resnet50_mini', /^(bn1|layer\d\.\d\.(bn\d|conv1|conv3)|layer\d\.0\.downsample\.1|layer1\.0\.downsample\.0)$/],
    ['vit_mini', /^blocks\.\d\.mlp\.fc[12]$/],
    ['mixer_mini', /^blocks\.\d\.mlp_channels\.fc[12]$/],
    ['convnext_mini', /^stages\.\d\.blocks\.\d\.mlp\.fc[12]$/],
    ['convnext_convmlp_mini', /^stages\.\d\.blocks\.\d\.mlp\.fc[12]$/],
  ];
  for (const [name, pattern] of COMMUTING) {
    it(`${name}: layers that commute with spatial generators are zero by construction, as the float64 reference says`, async () => {
      const dir = new URL('./fixtures/layerwise/', import.meta.url).pathname;
      const ref = (await loadSafetensors(`${dir}${name}.layerwise.safetensors`)).tensors;
      const { model, images } = await fixtureModel(name);
      for (const gen of ['translate_x', 'rotate', 'saturate'] as const) {
        const r = await layerwise(model, images, { transform: gen });
        const picked = r.layers.filter((l) => pattern.test(l.name));
        expect(picked.length, name).toBeGreaterThanOrEqual(2);
        const total = r.layers.reduce((a, l) => a + l2(ref.get(`contrib.${gen}.${l.name}`)!.data), 0);
        if (gen === 'saturate') {
          // x -> (1 + t) x meets the bias: computed like any layer
          for (const l of picked) expect(l.zero, `${gen} ${l.name}`).toBe(false);
          continue;
        }
        const all = await layerwise(model, images, { transform: gen, computeAll: true });
        // exactly the picked layers (and identities, non-image layers) are zero
        const zeros = (x: typeof r) => x.layers.filter((l) => l.zero).map((l) => l.name);
        expect(zeros(r).filter((n) => !zeros(all).includes(n)).sort(), `${name} ${gen}`).toEqual(picked.map((l) => l.name).sort());
        for (const l of picked) {
          expect(l2(ref.get(`contrib.${gen}.${l.name}`)!.data) / total, `${gen} ${l.name} float64 reference`).toBeLessThan(1e-9);
          expect(l2(all.contributions[l.order]!) / total, `${gen} ${l.name} computed`).toBeLessThan(1e-5);
          expect(l2(r.contributions[l.order]!), `${gen} ${l.name}`).toBe(0);
        }
        r.residual.forEach((res) => expect(res).toBeLessThan(ADDITIVITY));
      }
      images.dispose();
      disposeWeights(model);
    });
  }
});
