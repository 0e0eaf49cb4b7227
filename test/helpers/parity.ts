import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, Tensor, tidy, dual } from '../../engine/index.js';
import { loadSafetensors } from '../../engine/safetensors.js';
import { withoutFolding } from '../../models/fold.js';
import { createModel } from '../../models/registry.js';
import { disposeWeights, namedModules, namedParams, type Module } from '../../models/module.js';
import { maxAbsError, relL2 } from './compare.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

export interface Fixture {
  name: string;
  arch: string;
  weights: string;
  io: string;
  image_size: [number, number];
  num_classes: number;
  kwargs: { num_heads?: number };
}

export function fixtures(filter: (f: Fixture) => boolean): Fixture[] {
  const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as { fixtures: Fixture[] };
  return manifest.fixtures.filter(filter);
}

/** A fixture's model with its weights, and its input images. A state_dict does not
 * record a ViT's attention heads: those come from the fixture's timm kwargs. */
export async function fixtureModel(name: string): Promise<{ model: Module; images: Tensor; fixture: Fixture }> {
  const fixture = fixtures((f) => f.name === name)[0];
  if (!fixture) throw new Error(`no model fixture ${name}`);
  const weights = await loadSafetensors(`${FIXTURES}${fixture.weights}`);
  const input = (await loadSafetensors(`${FIXTURES}${fixture.io}`)).tensors.get('input')!;
  const model = createModel(fixture.arch, weights.tensors, fixture.weights, { numHeads: fixture.kwargs.num_heads });
  return { model, images: Tensor.fromData(input.data, input.shape), fixture };
}

/** max |got - want| <= 1e-4 max|want| + abs, element by element: SPEC 7's logit bound
 * (abs = 1e-5), also used for JVPs of the logits (abs = 1e-6). */
export function expectLogitsClose(got: Float32Array, want: Float32Array, label: string, abs = 1e-5): void {
  expect(got.length, `${label} length`).toBe(want.length);
  const { diff, bound, at } = maxAbsError(got, want, 1e-4, abs);
  expect(diff, `${label}: max |diff| ${diff} at ${at} (got ${got[at]}, want ${want[at]}) vs bound ${bound}`).toBeLessThanOrEqual(bound);
}

/** Logits and the JVP along each of the fixture's input tangents against PyTorch (float64
 * reference), both element by element: a relative L2 over the logits can hide one wrong
 * class. */
export function runParity(list: Fixture[]): void {
  beforeAll(async () => {
    await init();
  });
  afterAll(async () => {
    await shutdown();
  });
  for (const f of list) {
    describe(`${f.name} (${f.arch})`, () => {
      // eval BatchNorm runs folded into the conv before it unless a layer hook watches;
      // both ways must match timm
      it('logits match timm and the JVP matches torch forward-mode, BatchNorm folded and not', async () => {
        const weights = await loadSafetensors(`${FIXTURES}${f.weights}`);
        const io = (await loadSafetensors(`${FIXTURES}${f.io}`)).tensors;
        const model = createModel(f.arch, weights.tensors, f.weights, { numHeads: f.kwargs.num_heads });
        const input = io.get('input')!;
        const tangent = io.get('tangent')!;
        const want = io.get('jvp_logits')!.data;
        const x = Tensor.fromData(input.data, input.shape);
        const t = Tensor.fromData(tangent.data, [1, ...tangent.shape]);
        for (const folded of [true, false]) {
          const run = () => tidy(() => model.forward(dual(x, t)));
          const out = folded ? run() : withoutFolding(run);
          const logits = await out.primal.read();
          const jvp = await out.tangents!.read();
          const label = `${f.name}${folded ? '' : ' (unfolded)'}`;
          expectLogitsClose(logits, io.get('logits')!.data, `${label} logits`);
          // one tangent (K = 1): its JVP is the whole [B, classes] block
          expect(jvp.length, `${label} JVP length`).toBe(want.length);
          expectLogitsClose(jvp, want, `${label} JVP`, 1e-6);
          expect(relL2(jvp, want), `${label} JVP relative L2`).toBeLessThanOrEqual(1e-3);
          out.primal.dispose();
          out.tangents!.dispose();
        }
        for (const v of [x, t]) v.dispose();
        disposeWeights(model);
      });
    });
  }
}

/** Our leaf modules as `name Type`, to compare with the manifest's timm list. */
export function leafModules(model: Module): string[] {
  return namedModules(model)
    .filter(([, m]) => namedModules(m).length === 0)
    .map(([name, m]) => `${name} ${m.type}`);
}

/** The module tree spells timm's state_dict keys and its leaf modules (`name Type`). */
export function expectTimmTree(model: Module, keys: Iterable<string>, leaves: readonly { name: string; type: string }[]): void {
  expect([...namedParams(model).keys()].sort()).toEqual([...keys].sort());
  expect(new Set(leafModules(model))).toEqual(new Set(leaves.map((l) => `${l.name} ${l.type}`)));
}
