import { GENERATOR_MATRIX, type SpatialGenerator } from '../../lee/transforms.js';
import { reflectIndex } from './sample.js';

/** SPEC 5.1's closed form in float64 for x [P, H, W] (P planes): bilinear
 * d/dt x(A(t)p) = vx (x[i,j+1] - x[i,j]) + vy (x[i+1,j] - x[i,j]); bicubic uses central
 * differences; far neighbours reflected. */
export function generatorTangentRef(
  x: ArrayLike<number>,
  planes: number,
  h: number,
  w: number,
  g: SpatialGenerator,
  interp: 'bilinear' | 'bicubic',
): Float64Array {
  const [a, b, c, d, e, f] = GENERATOR_MATRIX[g];
  const out = new Float64Array(planes * h * w);
  const at = (p: number, i: number, j: number) => x[p * h * w + reflectIndex(i, h) * w + reflectIndex(j, w)]!;
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const xn = -1 + (2 * j) / (w - 1);
        const yn = -1 + (2 * i) / (h - 1);
        const vx = ((a * xn + b * yn + c) * (w - 1)) / 2;
        const vy = ((d * xn + e * yn + f) * (h - 1)) / 2;
        const dx = interp === 'bilinear' ? at(p, i, j + 1) - at(p, i, j) : (at(p, i, j + 1) - at(p, i, j - 1)) / 2;
        const dy = interp === 'bilinear' ? at(p, i + 1, j) - at(p, i, j) : (at(p, i + 1, j) - at(p, i - 1, j)) / 2;
        out[p * h * w + i * w + j] = vx * dx + vy * dy;
      }
    }
  }
  return out;
}
