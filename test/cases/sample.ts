import { ops } from '../../engine/index.js';
import type { OpCase } from '../helpers/optest.js';
import type { Rng } from '../helpers/random.js';
import { gridSampleRef } from '../ref/sample.js';

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
