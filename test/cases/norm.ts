import { ops } from '../../engine/index.js';
import type { InputSpec, OpCase } from '../helpers/optest.js';
import type { Rng } from '../helpers/random.js';
import { batchNormRef, groupNormRef, layerNormRef } from '../ref/norm.js';

const param = (c: number): InputSpec => ({ shape: [c], constant: true });
const positive = (c: number): InputSpec => ({ shape: [c], constant: true, init: (rng: Rng, n: number) => rng.uniforms(n, 0.3, 2.5) });
/** Values 5 +- 1: the mean dwarfs the spread, as after a residual add. */
const offset = (rng: Rng, n: number) => rng.normals(n, 1, 5);
/** 1000 +- 1: the mean itself is not representable to 1e-5 of the spread in f32. */
const farOffset = (rng: Rng, n: number) => rng.normals(n, 1, 1000);

type Affine = 'both' | 'none' | 'weight' | 'bias';

/** Operand slots [x, (w), (b)] for the affine variant; absent ones are passed as null. */
function affineInputs(x: InputSpec, c: number, affine: Affine): InputSpec[] {
  return [x, ...(affine === 'both' || affine === 'weight' ? [param(c)] : []), ...(affine === 'both' || affine === 'bias' ? [param(c)] : [])];
}
function split<T>(xs: T[], affine: Affine): [T, T | null, T | null] {
  const w = affine === 'both' || affine === 'weight' ? xs[1]! : null;
  const b = affine === 'both' ? xs[2]! : affine === 'bias' ? xs[1]! : null;
  return [xs[0]!, w, b];
}

function layerNormCase(
  shape: number[],
  axis: 'last' | 'channels',
  affine: Affine,
  eps: number,
  extra: Partial<OpCase> & { init?: InputSpec['init'] } = {},
): OpCase {
  const c = axis === 'last' ? shape[shape.length - 1]! : shape[1]!;
  const { init, ...rest } = extra;
  return {
    name: `layerNorm ${axis} [${shape.join(',')}] affine=${affine} eps=${eps}`,
    inputs: affineInputs({ shape, init }, c, affine),
    gpu: (xs) => ops.layerNorm(...split(xs, affine), { eps, axis }),
    ref: (xs) => layerNormRef(...split(xs, affine), eps, axis),
    ...rest,
  };
}

function groupNormCase(shape: number[], groups: number, affine: Affine, extra: Partial<OpCase> & { init?: InputSpec['init'] } = {}): OpCase {
  const { init, ...rest } = extra;
  const eps = 1e-5;
  return {
    name: `groupNorm [${shape.join(',')}] groups=${groups} affine=${affine}`,
    inputs: affineInputs({ shape, init }, shape[1]!, affine),
    gpu: (xs) => {
      const [x, w, b] = split(xs, affine);
      return ops.groupNorm(x, groups, w, b, eps);
    },
    ref: (xs) => {
      const [x, w, b] = split(xs, affine);
      return groupNormRef(x, groups, w, b, eps);
    },
    ...rest,
  };
}

function batchNormCase(shape: number[], affine: Affine, eps = 1e-5): OpCase {
  const c = shape[1]!;
  return {
    name: `batchNorm [${shape.join(',')}] affine=${affine} eps=${eps}`,
    // [x, running mean, running var (positive), (w), (b)]
    inputs: [{ shape }, param(c), positive(c), ...affineInputs({ shape }, c, affine).slice(1)],
    gpu: ([x, m, v, ...wb]) => {
      const [, w, b] = split([x!, ...wb], affine);
      return ops.batchNorm(x!, m!, v!, w, b, eps);
    },
    ref: ([x, m, v, ...wb]) => {
      const [, w, b] = split([x!, ...wb], affine);
      return batchNormRef(x!, m!, v!, w, b, eps);
    },
  };
}

/** Rows with no spread (output = bias), a large common offset, values near zero. */
const LAYER_EDGES = [
  [
    { shape: [4, 4], values: [3, 3, 3, 3, 1e4, 1e4 + 0.5, 1e4 + 1, 1e4 + 2, -1e-3, 0, 1e-3, 0, -7, 0, 7, 30] },
    { shape: [4], values: [1, -2, 0.5, 3] },
    { shape: [4], values: [0.25, 0, -1, 2] },
  ],
];

export const normCases: OpCase[] = [
  // short rows: one thread per row
  layerNormCase([2, 5, 24], 'last', 'both', 1e-5),
  // ViT width; few rows: one workgroup per row, mean 5 against a spread of 1
  layerNormCase([3, 768], 'last', 'both', 1e-6, { init: offset }),
  // many rows: one thread per row
  layerNormCase([128, 768], 'last', 'none', 1e-6, { init: farOffset }),
  layerNormCase([130, 50], 'last', 'both', 1e-6, { init: offset }),
  layerNormCase([2, 24, 3, 5], 'channels', 'none', 1e-6, { init: farOffset }),
  layerNormCase([3, 7, 37], 'last', 'none', 1e-5),
  layerNormCase([5, 1], 'last', 'both', 1e-5),
  layerNormCase([4, 4], 'last', 'both', 1e-5, { edges: LAYER_EDGES }),
  // timm LayerNorm2d: C strided by H*W
  layerNormCase([2, 6, 3, 5], 'channels', 'both', 1e-6),
  layerNormCase([2, 6, 3, 5], 'channels', 'none', 1e-6),
  // long strided rows, few of them: one workgroup per row
  layerNormCase([2, 40, 1, 3], 'channels', 'bias', 1e-6, { init: offset }),
  // long strided rows, many of them: one thread per row, coalesced across threads
  layerNormCase([1, 40, 24, 25], 'channels', 'weight', 1e-6),
  batchNormCase([2, 3, 4, 5], 'both'),
  batchNormCase([3, 7], 'both', 1e-3),
  batchNormCase([1, 5, 3], 'none'),
  groupNormCase([2, 6, 3, 5], 1, 'both'),
  groupNormCase([2, 6, 3, 5], 2, 'both'),
  // instance norm (groups = C)
  groupNormCase([2, 6, 3, 5], 6, 'both'),
  groupNormCase([3, 9, 1, 7], 3, 'none', { init: offset }),
  groupNormCase([1, 4, 2, 3], 4, 'bias'),
  // long rows: one workgroup per row
  groupNormCase([1, 8, 20, 21], 2, 'weight'),
  // many long rows: one thread per row
  groupNormCase([32, 8, 5, 5], 4, 'both'),
];
