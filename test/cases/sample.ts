import { ops } from '../../engine/index.js';
import type { OpCase } from '../helpers/optest.js';
import type { ND } from '../ref/ndarray.js';
import type { Rng } from '../helpers/random.js';
import { bilinearCentreJvpRef, gridSampleRef } from '../ref/sample.js';

/** Generic points (never on a pixel centre, where the sampling has kinks) over the image
 * and up to 1.5 pixels beyond it, so reflection is exercised. */
const points = (h: number, w: number) => (rng: Rng, n: number) => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    out[i] = Math.fround(-1.5 + (w + 2) * rng.uniform() + 0.013);
    out[i + 1] = Math.fround(-1.5 + (h + 2) * rng.uniform() + 0.017);
  }
  return out;
};

const wave = (n: number, f: number, phase = 0) => Array.from({ length: n }, (_, i) => Math.sin(f * i + phase) + i / 50);
/** (column, row) pixel centres: every one of a 4 x 5 image in order (lee's identity grid at
 * t = 0), and per image of a batch of 2 a 3 x 3 pick of edge and corner centres. */
const IDENTITY_4x5 = Array.from({ length: 20 }, (_, p) => [p % 5, Math.floor(p / 5)]).flat();
const EDGE_CENTRES = [
  [4, 0, 4, 3, 0, 3, 2, 3, 4, 1, 3, 2, 0, 0, 1, 0, 4, 2],
  [3, 3, 4, 2, 1, 3, 0, 1, 4, 3, 2, 0, 4, 1, 3, 3, 0, 2],
].flat();

/** Bilinear's derivative convention at pixel centres (a table row of its own, see
 * test/ops.test.ts). */
export const bilinearAtCentres: OpCase = {
  name: 'gridSample bilinear at pixel centres: right / bottom neighbour, reflected at the far edge',
  inputs: [{ shape: [2, 3, 4, 5] }, { shape: [1, 4, 5, 2], init: points(4, 5) }],
  gpu: ([x, g]) => ops.gridSample(x!, g!, 'bilinear'),
  ref: ([x, g]) => gridSampleRef(x!, g!, 'bilinear'),
  conventions: [
    { grid: [1, 4, 5, 2], values: IDENTITY_4x5 },
    { grid: [2, 3, 3, 2], values: EDGE_CENTRES },
  ].map(({ grid, values }) => ({
    what: 'the derivative at a centre is the one of the cell to its right / below, W -> W - 2 at the far edge',
    inputs: [{ shape: [2, 3, 4, 5], values: wave(120, 1.7) }, { shape: grid, values }],
    // grid tangents of both signs at every point, the right and bottom edges included
    tangents: [0.4, 2.1].map((phase) => [wave(120, 0.9, phase), wave(values.length, 2.3, phase).map((v, i) => (i % 3 === 1 ? -v : v))]),
    jvp: ([x, g]: ND[], [tx, tg]: (ND | null)[]) => bilinearCentreJvpRef(x!, g!, tx!, tg!),
  })),
};

export const sampleCases: OpCase[] = (['bilinear', 'bicubic'] as const).flatMap((interp): OpCase[] => [
  {
    name: `gridSample ${interp}: image and grid tangents`,
    inputs: [{ shape: [2, 3, 5, 7] }, { shape: [2, 4, 6, 2], init: points(5, 7) }],
    gpu: ([x, g]) => ops.gridSample(x!, g!, interp),
    ref: ([x, g]) => gridSampleRef(x!, g!, interp),
  },
  {
    name: `gridSample ${interp}: one grid for the batch, grid tangents only`,
    inputs: [{ shape: [3, 2, 6, 4], constant: true }, { shape: [1, 5, 5, 2], init: points(6, 4) }],
    gpu: ([x, g]) => ops.gridSample(x!, g!, interp),
    ref: ([x, g]) => gridSampleRef(x!, g!, interp),
  },
  {
    name: `gridSample ${interp}: image tangents only, 1-pixel-wide image`,
    inputs: [{ shape: [1, 2, 4, 1] }, { shape: [1, 3, 2, 2], init: points(4, 1), constant: true }],
    gpu: ([x, g]) => ops.gridSample(x!, g!, interp),
    ref: ([x, g]) => gridSampleRef(x!, g!, interp),
  },
]);
