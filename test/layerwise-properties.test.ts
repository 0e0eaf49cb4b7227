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
    // identities, and layers between non-image tensors, are zero by construction
    const cases: [string, RegExp][] = [
      ['resnet50_mini', /^layer1\.0\.(conv1|conv3)$/],
      ['vit_mini', /^blocks\.\d\.mlp\.(fc1|fc2)$/],
      ['mixer_mini', /^blocks\.\d\.mlp_channels\.(fc1|fc2)$/],
      ['convnext_mini', /^stages\.0\.blocks\.0\.mlp\.(fc1|fc2)$/],
      ['convnext_convmlp_mini', /^stages\.0\.blocks\.0\.mlp\.(fc1|fc2)$/],
    ];
    for (const [name, pattern] of cases) {
      const { model, images } = await fixtureModel(name);
      const r = await layerwise(model, images, { transform: 'translate_x' });
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

  it('eval BatchNorm commutes with spatial generators: zero by construction, as the float64 reference says', async () => {
    const dir = new URL('./fixtures/layerwise/', import.meta.url).pathname;
    const ref = (await loadSafetensors(`${dir}resnet50_mini.layerwise.safetensors`)).tensors;
    const { model, images } = await fixtureModel('resnet50_mini');
    for (const gen of ['translate_x', 'rotate', 'saturate'] as const) {
      const r = await layerwise(model, images, { transform: gen });
      const bns = r.layers.filter((l) => l.type === 'BatchNorm2d');
      expect(bns.length).toBeGreaterThan(10);
      const total = r.layers.reduce((a, l) => a + l2(ref.get(`contrib.${gen}.${l.name}`)!.data), 0);
      for (const l of bns) {
        const want = l2(ref.get(`contrib.${gen}.${l.name}`)!.data) / total;
        const got = l2(r.contributions[l.order]!) / total;
        if (gen === 'saturate') {
          // x -> (1 + t) x does not commute with the bias: a real contribution, computed
          expect(l.zero, l.name).toBe(false);
          expect(want, `${gen} ${l.name} reference`).toBeGreaterThan(1e-6);
          expect(got, `${gen} ${l.name}`).toBeGreaterThan(1e-6);
        } else {
          expect(l.zero, l.name).toBe(true);
          expect(want, `${gen} ${l.name} reference`).toBeLessThan(1e-9);
          expect(got, `${gen} ${l.name}`).toBe(0);
        }
      }
    }
    images.dispose();
    disposeWeights(model);
  });
});
