import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Tensor, tidy, dual } from '../../engine/index.js';
import { loadSafetensors } from '../../engine/safetensors.js';
import { modelSpec } from '../../models/registry.js';
import { disposeWeights, loadWeights, nameModules, namedModules } from '../../models/module.js';
import { randomWeights } from '../../models/init.js';
import { Rng } from './random.js';
import { expectLogitsClose } from './parity.js';

export const FULLSIZE = fileURLToPath(new URL('../fixtures/fullsize/', import.meta.url));

/** A fixture of scripts/gen_fullsize_fixtures.py: seeds, timm's heads, the PyTorch
 * logits' file, and checksums of the weights and input that the script generated with
 * its port of our Rng and randomWeights. */
interface FullSizeFixture {
  name: string;
  arch: string;
  weight_seed: number;
  input_seed: number;
  input_shape: number[];
  num_heads: number | null;
  logits: string;
  input_checksum: [number, number];
  /** [key, shape, sum, sum of squares] in timm's state_dict order */
  tensors: [string, number[], number, number][];
}

function fullSizeFixture(name: string): FullSizeFixture {
  const manifest = JSON.parse(readFileSync(`${FULLSIZE}manifest.json`, 'utf8')) as { fixtures: FullSizeFixture[] };
  const f = manifest.fixtures.find((e) => e.name === name);
  if (!f) throw new Error(`no full-size fixture ${name}`);
  return f;
}

/** [sum, sum of squares] in float64, in index order: the script's checksum. */
function checksum(data: ArrayLike<number>): [number, number] {
  let s = 0;
  let q = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    s += v;
    q += v * v;
  }
  return [s, q];
}

/** Our default `name` with seeded random weights, on a seeded normal image at 224 px,
 * against timm's float64 logits for the same weights and image (SPEC 7). The weights
 * and image are not stored: the test first checks that it regenerates exactly what the
 * fixture script did (keys in timm's order, shapes, checksums), and that our default
 * configuration has timm's attention heads, which weights cannot show. Frees all it
 * allocates. */
export async function expectFullSizeLogits(name: string): Promise<void> {
  const f = fullSizeFixture(name);
  const model = modelSpec(f.arch).build();
  nameModules(model);
  const heads = namedModules(model).flatMap(([, m]) => ('heads' in m ? [m.heads] : []));
  expect(new Set(heads), `${name} attention heads`).toEqual(new Set(f.num_heads === null ? [] : [f.num_heads]));

  const weights = randomWeights(model, f.weight_seed);
  expect([...weights].map(([k, t]) => [k, t.shape]), `${name} state_dict keys`).toEqual(f.tensors.map(([k, s]) => [k, s]));
  const sums = [...weights].map(([k, t]) => [k, ...checksum(t.data)]);
  expect(sums, `${name} weights`).toEqual(f.tensors.map(([k, , s, q]) => [k, s, q]));
  loadWeights(model, weights, `${name} random weights`);

  const n = f.input_shape.reduce((a, b) => a * b, 1);
  const image = Float32Array.from(new Rng(f.input_seed).normals(n));
  expect(checksum(image), `${name} input`).toEqual(f.input_checksum);
  const x = Tensor.fromData(image, f.input_shape);
  const out = tidy(() => model.forward(dual(x)));
  const shape = out.primal.shape;
  const logits = await out.primal.read();
  x.dispose();
  out.primal.dispose();
  disposeWeights(model);

  const want = (await loadSafetensors(`${FULLSIZE}${f.logits}`)).tensors.get('logits')!;
  expect(shape, `${name} logits shape`).toEqual(want.shape);
  expectLogitsClose(logits, want.data, `${name} logits`);
}
