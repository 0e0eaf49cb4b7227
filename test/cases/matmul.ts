import { bind, ops } from '../../engine/index.js';
import { GEMM_TILINGS } from '../../engine/ops/matmul.js';
import type { DirectGemmTiling, GemmTiling } from '../../shaders/matmul.js';
import type { EdgeInput, OpCase } from '../helpers/optest.js';
import { linearRef, matmulRef } from '../ref/matmul.js';

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Inputs from a repeating list of values (zeros, signed zeros, infinities, large). */
const filled = (shape: number[], values: number[]): EdgeInput => ({
  shape,
  values: Array.from({ length: count(shape) }, (_, i) => values[i % values.length]!),
});

/** One case per shape/layout: forward and JVP of a product, both operands differentiable
 * unless `constant` says which is a weight. */
function product(
  name: string,
  a: number[],
  b: number[],
  opts: { transB?: boolean; constant?: 'a' | 'b'; tiling?: GemmTiling; direct?: DirectGemmTiling } = {},
): OpCase {
  const transB = !!opts.transB;
  const { tiling, direct } = opts;
  return {
    name: `matmul ${name}`,
    inputs: [
      { shape: a, constant: opts.constant === 'a' },
      { shape: b, constant: opts.constant === 'b' },
    ],
    gpu: ([x, y]) => ops.matmul(x!, y!, { transB, tiling, direct }),
    ref: ([x, y]) => matmulRef(x!, y!, transB),
  };
}

export const matmulCases: OpCase[] = [
  {
    ...product('7x5 @ 5x3 (odd sizes, both differentiable)', [7, 5], [5, 3]),
    edges: [
      [filled([7, 5], [0, -0, Infinity, 1, -2.5, 1e20, -Infinity, 3]), filled([5, 3], [1, -1, 0, 2, 1e-20, -0.5, 4])],
      [filled([7, 5], [0]), filled([5, 3], [Infinity, -1, 2])],
    ],
  },
  product('[2,3,7,5] @ constant [5,3] (batch folded into rows)', [2, 3, 7, 5], [5, 3], { constant: 'b' }),
  product('batch broadcast [2,1,4,6] @ [3,6,5]', [2, 1, 4, 6], [3, 6, 5]),
  product('vec4, broadcast middle axis [2,3,5,4] @ [2,1,4,8]', [2, 3, 5, 4], [2, 1, 4, 8]),
  product('constant left broadcast [1,6,8] @ [3,8,12] (1x1 conv pattern)', [1, 6, 8], [3, 8, 12], { constant: 'a' }),
  product('transB [3,4,9] @ [3,7,9]^T', [3, 4, 9], [3, 7, 9], { transB: true }),
  product('transB vec4 loads [5,8] @ [6,8]^T', [5, 8], [6, 8], { transB: true }),
  product('1x1x1 with batch [3,1,1] @ [3,1,1]', [3, 1, 1], [3, 1, 1]),
  product("constant [1,4,9,9] @ [2,4,9,5] (ConViT GPSA's positional attention on v)", [1, 4, 9, 9], [2, 4, 9, 5], { constant: 'a' }),
  product('several scalar tiles [70,33] @ [33,65]', [70, 33], [33, 65]),
  product('64x96x80 (vec4 path)', [64, 96], [96, 80]),
  // the tilings chosen on other adapters, run here too
  product('GPU large tiling [2,130,40] @ [40,140]', [2, 130, 40], [40, 140], { tiling: GEMM_TILINGS.gpuLarge }),
  product('GPU small tiling [3,70,9] @ [3,66,9]^T', [3, 70, 9], [3, 66, 9], { transB: true, tiling: GEMM_TILINGS.gpuSmall }),
  {
    name: 'linear GPU large tiling [2,5,12] with weight [130,12] and bias',
    inputs: [{ shape: [2, 5, 12] }, { shape: [130, 12], constant: true }, { shape: [130], constant: true }],
    gpu: ([x, w, b]) => bind('matmul', { transB: true, tiling: GEMM_TILINGS.gpuLarge }, [x!, w!, b!]),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
  {
    name: 'linear [2,5,8] with weight [6,8] and bias (constant weights)',
    inputs: [{ shape: [2, 5, 8] }, { shape: [6, 8], constant: true }, { shape: [6], constant: true }],
    gpu: ([x, w, b]) => ops.linear(x!, w!, b!),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
    edges: [[filled([2, 5, 8], [0, 1e30, -0, -Infinity, 2, 0.5, -1]), filled([6, 8], [0.25, -1, 0, 3]), filled([6], [1, -2, 0])]],
  },
  {
    name: 'linear [3,12] with weight [8,12] and bias, all differentiable',
    inputs: [{ shape: [3, 12] }, { shape: [8, 12] }, { shape: [8] }],
    gpu: ([x, w, b]) => ops.linear(x!, w!, b!),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
  {
    name: 'linear rank 4 [2,2,3,4] with weight [5,4], no bias',
    inputs: [{ shape: [2, 2, 3, 4] }, { shape: [5, 4], constant: true }],
    gpu: ([x, w]) => ops.linear(x!, w!),
    ref: ([x, w]) => linearRef(x!, w!),
  },
  {
    name: 'linear [4,7] with a differentiable bias only',
    inputs: [{ shape: [4, 7], constant: true }, { shape: [3, 7], constant: true }, { shape: [3] }],
    gpu: ([x, w, b]) => ops.linear(x!, w!, b!),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
];

/** The barrier-free kernel CPU drivers run, forced on every adapter: vec4 and scalar K,
 * vec4 and scalar N, transposed B, accumulated products (both operands differentiable),
 * broadcast batch axes and ragged edges. */
export const directMatmulCases: OpCase[] = [
  product('direct 16x16 [2,37,20] @ [20,45]', [2, 37, 20], [20, 45], { direct: { rm: 16, rn: 16 } }),
  product('direct 16x16 transB [3,19,13] @ [3,21,13]^T', [3, 19, 13], [3, 21, 13], { transB: true, direct: { rm: 16, rn: 16 } }),
  product('direct 4x8 [70,12] @ constant [12,40]', [70, 12], [12, 40], { constant: 'b', direct: { rm: 4, rn: 8 } }),
  product('direct 2x4 broadcast [2,1,3,8] @ [3,8,6]', [2, 1, 3, 8], [3, 8, 6], { direct: { rm: 2, rn: 4 } }),
  product('direct 1x4 transB vec4 [5,3,8] @ [5,9,8]^T', [5, 3, 8], [5, 9, 8], { transB: true, direct: { rm: 1, rn: 4 } }),
  {
    name: 'linear direct 16x16 [2,33,16] with weight [50,16] and bias',
    inputs: [{ shape: [2, 33, 16] }, { shape: [50, 16], constant: true }, { shape: [50], constant: true }],
    gpu: ([x, w, b]) => bind('matmul', { transB: true, direct: { rm: 16, rn: 16 } }, [x!, w!, b!]),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
];

/** The direct kernel sharing B's loads over the adapter's subgroups (lavapipe's Linear
 * path), forced: ragged rows (a subgroup partly past the end) and columns, batch axes,
 * a bias, and a grid where whole subgroups have no rows. */
export const subgroupMatmulCases: OpCase[] = [
  product('direct 8x16 subgroups transB [2,37,20] @ [45,20]^T', [2, 37, 20], [45, 20], { transB: true, constant: 'b', direct: { rm: 8, rn: 16, subgroups: true } }),
  product('direct 8x16 subgroups transB batched [3,11,8] @ [3,17,8]^T', [3, 11, 8], [3, 17, 8], { transB: true, direct: { rm: 8, rn: 16, subgroups: true } }),
  product('direct 1x16 subgroups transB [3,12] @ [33,12]^T', [3, 12], [33, 12], { transB: true, direct: { rm: 1, rn: 16, subgroups: true } }),
  {
    name: 'linear direct 8x16 subgroups [2,33,16] with weight [50,16] and bias',
    inputs: [{ shape: [2, 33, 16] }, { shape: [50, 16], constant: true }, { shape: [50], constant: true }],
    gpu: ([x, w, b]) => bind('matmul', { transB: true, direct: { rm: 8, rn: 16, subgroups: true } }, [x!, w!, b!]),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
];

/** Accumulator-major steps (lavapipe's large Linear layers), forced: shared over
 * subgroups with a bias and ragged rows and columns, the plain kernel with B per batch
 * entry, and B untransposed (vec4 along K and N, accumulated), so every load pattern
 * of a step meets the reordered FMAs. */
export const accMajorMatmulCases: OpCase[] = [
  {
    name: 'linear direct 8x16 subgroups accumulator-major [2,37,20] with weight [45,20] and bias',
    inputs: [{ shape: [2, 37, 20] }, { shape: [45, 20], constant: true }, { shape: [45], constant: true }],
    gpu: ([x, w, b]) => bind('matmul', { transB: true, direct: { rm: 8, rn: 16, subgroups: true, accMajor: true } }, [x!, w!, b!]),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
  product('direct 16x16 accumulator-major transB [3,19,12] @ [3,21,12]^T', [3, 19, 12], [3, 21, 12], { transB: true, direct: { rm: 16, rn: 16, accMajor: true } }),
  product('direct 4x8 accumulator-major [2,9,16] @ [16,12]', [2, 9, 16], [16, 12], { direct: { rm: 4, rn: 8, accMajor: true } }),
  product('direct 8x16 accumulator-major, K not a multiple of 4 [5,13] @ [17,13]^T', [5, 13], [17, 13], { transB: true, constant: 'b', direct: { rm: 8, rn: 16, subgroups: true, accMajor: true } }),
];

/** The compact 8 x 8 tile small products take on CPU drivers (a 32 px ViT's Linear
 * layers and heads), forced: a Linear with bias, shared over subgroups, and per-head
 * products of 17 tokens in both layouts. */
export const compactMatmulCases: OpCase[] = [
  {
    name: 'linear direct 8x8 [3,17,48] with weight [44,48] and bias',
    inputs: [{ shape: [3, 17, 48] }, { shape: [44, 48], constant: true }, { shape: [44], constant: true }],
    gpu: ([x, w, b]) => bind('matmul', { transB: true, direct: { rm: 8, rn: 8 } }, [x!, w!, b!]),
    ref: ([x, w, b]) => linearRef(x!, w!, b!),
  },
  product('direct 8x8 subgroups transB [3,17,48] @ [44,48]^T', [3, 17, 48], [44, 48], { transB: true, constant: 'b', direct: { rm: 8, rn: 8, subgroups: true } }),
  product('direct 8x8 transB heads [6,17,16] @ [6,17,16]^T', [6, 17, 16], [6, 17, 16], { transB: true, direct: { rm: 8, rn: 8 } }),
  product('direct 8x8 heads [6,17,17] @ [6,17,16]', [6, 17, 17], [6, 17, 16], { direct: { rm: 8, rn: 8 } }),
];
