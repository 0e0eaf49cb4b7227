import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { loadSafetensors } from '../../engine/safetensors.js';
import { disposeWeights } from '../../models/module.js';
import { layerwise, type LayerwiseResult } from '../../lee/layerwise.js';
import type { Generator } from '../../lee/transforms.js';
import { fixtureModel } from './parity.js';
import { maxAbsError, relL2 } from './compare.js';

// Layerwise contributions against scripts/gen_layerwise_fixtures.py: timm in float64,
// each layer's Lie derivative from torch.autograd.forward_ad on its captured input,
// injected as the tangent of that layer's output and read at the softmax (SPEC 5.3).
const DIR = fileURLToPath(new URL('../fixtures/layerwise/', import.meta.url));
const SHARE = 0.01; // layers holding at least 1 % of the total are compared one by one
// relative L2 per image for those layers: each is a Lie derivative (SPEC 7). Measured on
// SwiftShader: <= 1.0e-5 in every family (resnet50_mini rotate, conv1), small layers'
// errors against the total <= 1.1e-7
const TOLERANCE = 1e-3;
const ELEMENT = { rel: 1e-4, abs: 1e-6 }; // end to end, element by element as in test/lie.test.ts
export const ADDITIVITY = 1e-4; // ||sum_i c_i - L p|| / ||L p|| in float32 (SPEC 5.3)
// LEE_LAYERWISE_REPORT=1 prints per-fixture worst errors and the dominant layers
const REPORT = !!process.env.LEE_LAYERWISE_REPORT;

interface FixtureLayer {
  name: string;
  type: string;
  in_layout: string;
  out_layout: string;
}
export interface LayerwiseFixture {
  name: string;
  arch: string;
  file: string;
  layers: FixtureLayer[];
}
const manifest = () => JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as { generators: Generator[]; fixtures: LayerwiseFixture[] };

export function layerwiseFixtures(filter: (f: LayerwiseFixture) => boolean = () => true): LayerwiseFixture[] {
  return manifest().fixtures.filter(filter);
}

const rows = (v: Float32Array, classes: number) => Array.from({ length: v.length / classes }, (_, b) => v.subarray(b * classes, (b + 1) * classes));
const l2 = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

/** The fixture's layout names for ours (`nchw` is our `bchw`, `tokens/1` our tokens with prefix 1). */
function layoutName(l: LayerwiseResult['layers'][number]['input']): string {
  if (l.kind === 'bchw') return 'nchw';
  if (l.kind === 'bhwc') return 'nhwc';
  if (l.kind === 'none') return 'none';
  return `${l.kind}/${l.prefix}`;
}

/** The worst errors of one fixture, over its generators and images. */
export interface LayerwiseErrors {
  /** largest relative L2 of a layer holding >= 1 % of the total */
  layer: number;
  /** largest ||c_i - ref_i|| / sum_j ||ref_j|| of the smaller layers */
  small: number;
  /** largest additivity residual ||sum_i c_i - L p|| / ||L p|| */
  residual: number;
}

/** timm's layers in timm's order with their types and layouts; every layer's contribution
 * against the fixture's; the end-to-end value; additivity (SPEC 5.3), for each of the
 * fixture's generators. */
export async function expectLayerwiseParity(f: LayerwiseFixture): Promise<LayerwiseErrors> {
  const { model, images } = await fixtureModel(f.name);
  const want = (await loadSafetensors(`${DIR}${f.file}`)).tensors;
  const generators = manifest().generators;
  const failures: string[] = [];
  const worstAll: LayerwiseErrors = { layer: 0, small: 0, residual: 0 };
  for (const gen of generators) {
    const r = await layerwise(model, images, { transform: gen });
    if (gen === generators[0]) {
      expect(r.layers.map((l) => l.name)).toEqual(f.layers.map((l) => l.name));
      expect(r.layers.map((l) => l.type)).toEqual(f.layers.map((l) => l.type));
      expect(r.layers.map((l) => `${layoutName(l.input)}>${layoutName(l.output)}`)).toEqual(f.layers.map((l) => `${l.in_layout}>${l.out_layout}`));
    }
    const e2e = rows(want.get(`e2e.${gen}`)!.data, r.classes);
    let worstElement = 0;
    rows(r.lie, r.classes).forEach((got, b) => {
      const e = relL2(got, e2e[b]!);
      if (!(e <= 1e-3)) failures.push(`${gen} end-to-end image ${b}: ${e.toExponential(2)}`);
      const el = maxAbsError(got, e2e[b]!, ELEMENT.rel, ELEMENT.abs).ratio;
      worstElement = Math.max(worstElement, el);
      if (!(el <= 1)) failures.push(`${gen} end-to-end image ${b}: max |diff| ${el.toFixed(2)}x the element bound`);
    });
    r.residual.forEach((res, b) => {
      if (!(res < ADDITIVITY)) failures.push(`${gen} additivity image ${b}: ${res.toExponential(2)}`);
      worstAll.residual = Math.max(worstAll.residual, res);
    });
    const refs = r.layers.map((l) => rows(want.get(`contrib.${gen}.${l.name}`)!.data, r.classes));
    let worst = 0;
    let worstSmall = 0;
    let worstName = '';
    for (let b = 0; b < r.batch; b++) {
      const total = refs.reduce((a, ref) => a + l2(ref[b]!), 0);
      r.layers.forEach((l, i) => {
        const got = r.contributions[i]!.subarray(b * r.classes, (b + 1) * r.classes);
        const ref = refs[i]![b]!;
        const share = l2(ref) / total;
        // small layers: the error against the total, so a wrong small value still fails
        const err = share >= SHARE ? relL2(got, ref) : l2(got.map((v, j) => v - ref[j]!)) / total;
        if (share >= SHARE && err > worst) [worst, worstName] = [err, l.name];
        if (share < SHARE) worstSmall = Math.max(worstSmall, err);
        if (!(err <= TOLERANCE)) failures.push(`${gen} ${l.name} image ${b} (share ${share.toFixed(3)}): ${err.toExponential(2)}`);
      });
    }
    worstAll.layer = Math.max(worstAll.layer, worst);
    worstAll.small = Math.max(worstAll.small, worstSmall);
    if (REPORT) {
      const top = r.layers
        .map((l, i) => ({ name: l.name, n: l2(r.contributions[i]!) }))
        .sort((a, b) => b.n - a.n)
        .slice(0, 3)
        .map((t) => t.name);
      console.log(
        `${f.name} ${gen}: worst ${worst.toExponential(1)} (${worstName}) small layers ${worstSmall.toExponential(1)} ` +
          `end-to-end element ratio ${worstElement.toExponential(1)} residual ${Math.max(...r.residual).toExponential(1)} top ${top.join(', ')}`,
      );
    }
  }
  images.dispose();
  disposeWeights(model);
  expect(failures).toEqual([]);
  return worstAll;
}
