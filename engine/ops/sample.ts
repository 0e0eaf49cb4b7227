import { runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { tangentCount, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import type { PrimitiveTable } from '../primitives.js';
import { UniformWriter, grid1d } from '../../shaders/common.js';
import { gridSampleKernel, type Interp } from '../../shaders/sample.js';

export type { Interp } from '../../shaders/sample.js';

export interface SampleParams {
  /** x [B, C, H, W] sampled at grid [B or 1, Ho, Wo, 2] = (column, row) in pixel units */
  gridSample: { interp: Interp };
}

function sampleDual(interp: Interp, x: Tensor, grid: Tensor, tx: Tensor | null, tg: Tensor | null): Dual {
  if (x.rank !== 4) throw new Error(`gridSample: image must be [B, C, H, W], got [${x.shape.join(', ')}]`);
  const [b, c, h, w] = x.shape as [number, number, number, number];
  if (grid.rank !== 4 || grid.shape[3] !== 2 || (grid.shape[0] !== b && grid.shape[0] !== 1)) {
    throw new Error(`gridSample: grid must be [${b} or 1, Ho, Wo, 2], got [${grid.shape.join(', ')}]`);
  }
  const [gb, ho, wo] = grid.shape as [number, number, number];
  const k = tangentCount([tx, tg]);
  const shape = [b, c, ho, wo];
  const y = Tensor.empty(shape);
  const ty = tx || tg ? Tensor.empty([k, ...shape]) : null;
  const n = b * c * ho * wo;
  runtime().dispatch({
    key: `gridSample:${interp}:${!!tx}:${!!tg}`,
    source: () => gridSampleKernel(interp, !!tx, !!tg),
    inputs: [x.buffer, grid.buffer, ...(tx ? [tx.buffer] : []), ...(tg ? [tg.buffer] : [])],
    outputs: ty ? [y.buffer, ty.buffer] : [y.buffer],
    uniform: new UniformWriter().u32(n, k, c, h, w, ho, wo, gb, x.size).finish(),
    workgroups: grid1d(n),
  });
  return { primal: y, tangents: ty };
}

export const samplePrims: PrimitiveTable<SampleParams> = {
  gridSample: {
    impl: (p, [x, g]) => sampleDual(p.interp, x!, g!, null, null).primal,
    // d out = sum_taps w dx[tap] + (dw/du du + dw/dv dv) x[tap]: linear in the image,
    // through the interpolation weights' derivatives in the grid
    jvp: (p, [x, g], [tx, tg]) => sampleDual(p.interp, x!, g!, tx ?? null, tg ?? null),
  },
};

/** Sample `x` at pixel-unit points: grid[b, i, j] = (column, row), row 0 / column 0 at the
 * first pixel's centre (align_corners=True), out-of-range taps reflected. Differentiable
 * in both the image and the grid. */
export function gridSample(x: Operand, grid: Operand, interp: Interp = 'bilinear'): Dual {
  return bind('gridSample', { interp }, [x, grid]);
}
