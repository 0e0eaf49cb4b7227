import { ops } from '../../engine/index.js';
import type { OpCase } from '../helpers/optest.js';
import { concatRef, expandRef, padRef, permuteRef, reshapeRef, rollRef, sliceRef } from '../ref/layout.js';

/** Copies must be bit-exact, specials included. */
const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-38, -3e38, 3e38, 1, -1, 0.1, 65504];
const specials = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Array.from({ length: n }, (_, i) => SPECIAL[i % SPECIAL.length]!) };
};

const RANK8 = [2, 1, 3, 2, 1, 2, 2, 3];

export const layoutCases: OpCase[] = [
  {
    name: 'layout: reshape [2,3,4] -> [4,-1]',
    inputs: [{ shape: [2, 3, 4] }],
    gpu: ([x]) => ops.reshape(x!, [4, -1]),
    ref: ([x]) => reshapeRef(x!, [4, -1]),
  },
  {
    name: 'layout: flatten(1) then unsqueeze(0) then squeeze [2,3,1,4]',
    inputs: [{ shape: [2, 3, 1, 4] }],
    gpu: ([x]) => ops.squeeze(ops.unsqueeze(ops.flatten(x!, 1), 0)),
    ref: ([x]) => reshapeRef(x!, [2, 12]),
  },
  {
    name: 'layout: permute NCHW -> NHWC [2,3,4,5]',
    inputs: [{ shape: [2, 3, 4, 5] }],
    gpu: ([x]) => ops.permute(x!, [0, 2, 3, 1]),
    ref: ([x]) => permuteRef(x!, [0, 2, 3, 1]),
    edges: [[specials([2, 3, 2, 2])]],
  },
  {
    name: 'layout: permute NHWC -> NCHW [2,4,5,3]',
    inputs: [{ shape: [2, 4, 5, 3] }],
    gpu: ([x]) => ops.permute(x!, [0, -1, 1, 2]),
    ref: ([x]) => permuteRef(x!, [0, 3, 1, 2]),
  },
  {
    name: 'layout: transpose last two axes [3,4,5]',
    inputs: [{ shape: [3, 4, 5] }],
    gpu: ([x]) => ops.transpose(x!, -2, -1),
    ref: ([x]) => permuteRef(x!, [0, 2, 1]),
  },
  {
    name: 'layout: permute rank 8 (K tangents make 9 axes)',
    inputs: [{ shape: RANK8 }],
    gpu: ([x]) => ops.permute(x!, [7, 2, 5, 0, 3, 6, 1, 4]),
    ref: ([x]) => permuteRef(x!, [7, 2, 5, 0, 3, 6, 1, 4]),
  },
  {
    name: 'layout: slice with steps and negative indices [6,7,8]',
    inputs: [{ shape: [6, 7, 8] }],
    gpu: ([x]) => ops.slice(x!, [1, -6, -1], [6, -1, -9], [2, 3, -2]),
    ref: ([x]) => sliceRef(x!, [1, -6, -1], [6, -1, -9], [2, 3, -2]),
  },
  {
    name: 'layout: slice leading axis only, clamped range, [5,4]',
    inputs: [{ shape: [5, 4] }],
    gpu: ([x]) => ops.slice(x!, [-100], [3]),
    ref: ([x]) => sliceRef(x!, [-100], [3]),
  },
  {
    name: 'layout: slice to an empty axis [4,3]',
    inputs: [{ shape: [4, 3] }],
    gpu: ([x]) => ops.slice(x!, [3, 0], [1, 3]),
    ref: ([x]) => sliceRef(x!, [3, 0], [1, 3]),
  },
  {
    name: 'layout: narrow axis 1 from -3, length 2 [2,5,3]',
    inputs: [{ shape: [2, 5, 3] }],
    gpu: ([x]) => ops.narrow(x!, 1, -3, 2),
    ref: ([x]) => sliceRef(x!, [0, 2], [2, 4]),
  },
  {
    name: 'layout: flip axes 0 and 2 [3,4,5]',
    inputs: [{ shape: [3, 4, 5] }],
    gpu: ([x]) => ops.flip(x!, [0, -1]),
    ref: ([x]) => sliceRef(x!, [undefined, undefined, undefined], [undefined, undefined, undefined], [-1, 1, -1]),
  },
  {
    name: 'layout: zero pad H and W of [2,3,5,6]',
    inputs: [{ shape: [2, 3, 5, 6] }],
    gpu: ([x]) => ops.pad(x!, [1, 2, 2, 1]),
    ref: ([x]) => padRef(x!, [1, 2, 2, 1], 'zero'),
    edges: [[specials([1, 2, 2, 3])]],
  },
  {
    name: 'layout: reflect pad H and W of [2,3,5,6] (maximal pads)',
    inputs: [{ shape: [2, 3, 5, 6] }],
    gpu: ([x]) => ops.pad(x!, [5, 3, 4, 1], 'reflect'),
    ref: ([x]) => padRef(x!, [5, 3, 4, 1], 'reflect'),
  },
  {
    name: 'layout: zero pad of only the last axis [2,3,5,6]',
    inputs: [{ shape: [2, 3, 5, 6] }],
    gpu: ([x]) => ops.pad(x!, [3, 0]),
    ref: ([x]) => padRef(x!, [3, 0], 'zero'),
  },
  {
    name: 'layout: reflect pad of only the last axis [3,4]',
    inputs: [{ shape: [3, 4] }],
    gpu: ([x]) => ops.pad(x!, [2, 3], 'reflect'),
    ref: ([x]) => padRef(x!, [2, 3], 'reflect'),
  },
  {
    name: 'layout: replicate pad [2,3,4]',
    inputs: [{ shape: [2, 3, 4] }],
    gpu: ([x]) => ops.pad(x!, [5, 1, 0, 2], 'replicate'),
    ref: ([x]) => padRef(x!, [5, 1, 0, 2], 'replicate'),
  },
  {
    name: 'layout: circular pad [2,3,4]',
    inputs: [{ shape: [2, 3, 4] }],
    gpu: ([x]) => ops.pad(x!, [4, 2, 1, 3], 'circular'),
    ref: ([x]) => padRef(x!, [4, 2, 1, 3], 'circular'),
  },
  {
    name: 'layout: zero pad with negative pads (crop) [4,5]',
    inputs: [{ shape: [4, 5] }],
    gpu: ([x]) => ops.pad(x!, [-1, 2, 1, -2]),
    ref: ([x]) => padRef(sliceRef(x!, [0, 1], [2, 5]), [0, 2, 1, 0], 'zero'),
  },
  {
    name: 'layout: zero pad of an empty axis [2,0]',
    inputs: [{ shape: [2, 0] }],
    gpu: ([x]) => ops.pad(x!, [1, 2]),
    ref: ([x]) => padRef(x!, [1, 2], 'zero'),
  },
  {
    name: 'layout: reflect pad rank 8',
    inputs: [{ shape: RANK8 }],
    gpu: ([x]) => ops.pad(x!, [2, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1], 'reflect'),
    ref: ([x]) => padRef(x!, [2, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1], 'reflect'),
  },
  {
    name: 'layout: concat of three along axis 1, middle one constant',
    inputs: [{ shape: [2, 3, 4] }, { shape: [2, 1, 4], constant: true }, { shape: [2, 5, 4] }],
    gpu: (xs) => ops.concat(xs, 1),
    ref: (xs) => concatRef(xs, 1),
  },
  {
    name: 'layout: concat of four along channels (DenseNet block: input and three growth maps)',
    inputs: [{ shape: [2, 6, 3, 3] }, { shape: [2, 2, 3, 3] }, { shape: [2, 2, 3, 3] }, { shape: [2, 2, 3, 3] }],
    gpu: (xs) => ops.concat(xs, 1),
    ref: (xs) => concatRef(xs, 1),
  },
  {
    name: 'layout: concat along the last axis, first one constant',
    inputs: [{ shape: [2, 3, 2], constant: true }, { shape: [2, 3, 5] }],
    gpu: (xs) => ops.concat(xs, -1),
    ref: (xs) => concatRef(xs, -1),
  },
  {
    name: 'layout: concat along axis 0 with an empty input',
    inputs: [{ shape: [2, 3] }, { shape: [0, 3] }, { shape: [1, 3] }],
    gpu: (xs) => ops.concat(xs, 0),
    ref: (xs) => concatRef(xs, 0),
  },
  // whole leading rows: recorded as buffer copies (one run per tangent, at offsets)
  {
    name: 'layout: concat along axis 0, a constant part between two',
    inputs: [{ shape: [2, 3, 4] }, { shape: [1, 3, 4], constant: true }, { shape: [3, 3, 4] }],
    gpu: (xs) => ops.concat(xs, 0),
    ref: (xs) => concatRef(xs, 0),
  },
  {
    name: 'layout: slice of leading rows from the middle [6,2,5]',
    inputs: [{ shape: [6, 2, 5] }],
    gpu: ([x]) => ops.slice(x!, [2], [5]),
    ref: ([x]) => sliceRef(x!, [2], [5]),
  },
  {
    name: 'layout: slice along axis 1 of [1,5,3] (one contiguous run)',
    inputs: [{ shape: [1, 5, 3] }],
    gpu: ([x]) => ops.slice(x!, [0, 1], [1, 4]),
    ref: ([x]) => sliceRef(x!, [0, 1], [1, 4]),
  },
  {
    name: 'layout: concat rank 8 along axis 4',
    inputs: [{ shape: RANK8 }, { shape: [2, 1, 3, 2, 2, 2, 2, 3] }],
    gpu: (xs) => ops.concat(xs, 4),
    ref: (xs) => concatRef(xs, 4),
  },
  {
    name: 'layout: expand [3,1] -> [2,3,4]',
    inputs: [{ shape: [3, 1] }],
    gpu: ([x]) => ops.expand(x!, [2, 3, 4]),
    ref: ([x]) => expandRef(x!, [2, 3, 4]),
    edges: [[specials([3, 1])]],
  },
  {
    name: 'layout: expand [2,1,4] -> [3,-1,5,4]',
    inputs: [{ shape: [2, 1, 4] }],
    gpu: ([x]) => ops.expand(x!, [3, -1, 5, 4]),
    ref: ([x]) => expandRef(x!, [3, 2, 5, 4]),
  },
  {
    name: 'layout: broadcastTo rank 8 from [3,1,2]',
    inputs: [{ shape: [3, 1, 2] }],
    gpu: ([x]) => ops.broadcastTo(x!, [2, 1, 2, 1, 2, 3, 2, 2]),
    ref: ([x]) => expandRef(x!, [2, 1, 2, 1, 2, 3, 2, 2]),
  },
  {
    name: 'layout: roll by (7, -1) on axes (-1, 1) of [2,3,5]',
    inputs: [{ shape: [2, 3, 5] }],
    gpu: ([x]) => ops.roll(x!, [7, -1], [-1, 1]),
    ref: ([x]) => rollRef(x!, [7, -1], [-1, 1]),
  },
];
