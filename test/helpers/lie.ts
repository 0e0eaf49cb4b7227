import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Tensor } from '../../engine/index.js';
import { loadSafetensors, type HostTensor } from '../../engine/safetensors.js';
import type { Interp } from '../../engine/ops/sample.js';
import { disposeWeights, type Module } from '../../models/module.js';
import { modelSpec } from '../../models/registry.js';
import { lieDerivatives, type LieResult } from '../../lee/lie.js';
import { GENERATORS } from '../../lee/transforms.js';
import { fixtureModel } from './parity.js';
import { maxAbsError, relL2 } from './compare.js';

// End-to-end Lie derivatives against scripts/gen_lie_fixtures.py: timm in float64 with
// torch forward-mode AD through an independent PyTorch resampling (SPEC 5.1, 5.2, 7).
export const LIE = fileURLToPath(new URL('../fixtures/lie/', import.meta.url));
const INTERPS: Interp[] = ['bilinear', 'bicubic'];
export const TOLERANCE = 1e-3; // relative L2 per image per generator (SPEC 7)
// and element by element, as the logits (SPEC 7): max |diff| <= 1e-4 max |ref| + 1e-6, so
// one wrong class cannot hide in the norm (measured on SwiftShader: relative L2 <= 1.1e-5,
// max |diff| <= 0.13 of this bound, every family, generator and interpolation)
export const ELEMENT = { rel: 1e-4, abs: 1e-6 };
// LEE_LIE_REPORT=1 prints the worst errors per generator for each fixture
const REPORT = !!process.env.LEE_LIE_REPORT;

/** Families whose own test file (test/models.<family>.test.ts) runs their Lie and
 * layerwise fixtures; test/lie.test.ts and test/layerwise.test.ts run all the others. */
export const FAMILY_FILES = new Set(['vgg', 'densenet', 'efficientnet', 'inception', 'resmlp', 'convmixer', 'convit']);

/** Whether a fixture of `arch` belongs to test/lie.test.ts and test/layerwise.test.ts. */
export const inSharedFiles = (arch: string): boolean => !FAMILY_FILES.has(modelSpec(arch).family);

export interface LieFixture {
  name: string;
  arch: string;
  lie: string;
  weights: string;
  io: string;
}

export function lieFixtures(filter: (f: LieFixture) => boolean = () => true): LieFixture[] {
  return (JSON.parse(readFileSync(`${LIE}manifest.json`, 'utf8')) as { fixtures: LieFixture[] }).fixtures.filter(filter);
}

export async function loadLieFixture(f: LieFixture): Promise<{ model: Module; images: Tensor; want: Map<string, HostTensor> }> {
  const { model, images } = await fixtureModel(f.name);
  const want = (await loadSafetensors(`${LIE}${f.lie}`)).tensors;
  return { model, images, want };
}

export function disposeLieResult(r: LieResult): void {
  r.logits.dispose();
  r.probs.dispose();
  for (const t of r.lie.values()) t.dispose();
}

/** Per image (row of [N, classes]): relative L2 error, and max |diff| over ELEMENT's bound. */
function perImage(got: Float32Array, want: Float32Array, classes: number): { l2: number; element: number }[] {
  const errs: { l2: number; element: number }[] = [];
  for (let o = 0; o < want.length; o += classes) {
    const g = got.subarray(o, o + classes);
    const w = want.subarray(o, o + classes);
    errs.push({ l2: relL2(g, w), element: maxAbsError(g, w, ELEMENT.rel, ELEMENT.abs).ratio });
  }
  return errs;
}

/** All ten generators in one pass, bilinear and bicubic, against the fixture, per image
 * and generator (relative L2 and element by element). Returns the worst relative L2. */
export async function expectLieParity(f: LieFixture): Promise<number> {
  const { model, images, want } = await loadLieFixture(f);
  const failures: string[] = [];
  let worstL2 = 0;
  for (const interp of INTERPS) {
    const r = lieDerivatives(model, images, { transforms: GENERATORS, interp });
    const probs = want.get('probs')!;
    const classes = probs.shape[1]!;
    const probErr = Math.max(...perImage(await r.probs.read(), probs.data, classes).map((e) => e.l2));
    if (!(probErr <= 1e-4)) failures.push(`${interp} probs: ${probErr.toExponential(2)}`);
    const worst: string[] = [];
    for (const g of GENERATORS) {
      const errs = perImage(await r.lie.get(g)!.read(), want.get(`lie.${interp}.${g}`)!.data, classes);
      errs.forEach((e, b) => {
        if (!(e.l2 <= TOLERANCE)) failures.push(`${interp} ${g} image ${b}: relative L2 ${e.l2.toExponential(2)}`);
        if (!(e.element <= 1)) failures.push(`${interp} ${g} image ${b}: max |diff| ${e.element.toFixed(2)}x the element bound`);
        worstL2 = Math.max(worstL2, e.l2);
      });
      worst.push(`${g}=${Math.max(...errs.map((e) => e.l2)).toExponential(1)}/${Math.max(...errs.map((e) => e.element)).toExponential(1)}`);
    }
    if (REPORT) console.log(`${f.name} ${interp} (relative L2 / element ratio): ${worst.join(' ')}`);
    disposeLieResult(r);
  }
  images.dispose();
  disposeWeights(model);
  expect(failures, `relative L2 above ${TOLERANCE} or max |diff| above ${ELEMENT.rel} max |ref| + ${ELEMENT.abs}`).toEqual([]);
  return worstL2;
}
