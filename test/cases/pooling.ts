import { ops } from '../../engine/index.js';
import type { EdgeInput, OpCase } from '../helpers/optest.js';
import { distinct } from '../helpers/random.js';
import { adaptiveAvgPoolRef, avgPoolRef, maxPoolJvpRef, maxPoolRef, type PoolRefOptions } from '../ref/pooling.js';

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Many equal values per window, all negative (so a zero pad would win), and a NaN. */
const maxEdges = (shape: number[]): EdgeInput[][] => [
  [{ shape, values: Array.from({ length: count(shape) }, (_, i) => (i * 5) % 3) }],
  [{ shape, values: Array.from({ length: count(shape) }, (_, i) => -1 - ((i * 7) % 4)) }],
  [{ shape, values: Array.from({ length: count(shape) }, (_, i) => (i === 4 ? NaN : (i % 5) * 1e4)) }],
];

type PoolCase = [number[], PoolRefOptions, string];

const MAX_POOLS: PoolCase[] = [
  [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }, 'ResNet stem 3x3 s2 p1'],
  [[1, 2, 6, 5], { kernel: [2, 2] }, 'default stride, odd width'],
  [[1, 2, 6, 8], { kernel: [3, 3], stride: [2, 2], ceilMode: true }, 'ceil mode'],
  [[1, 2, 5, 6], { kernel: [2, 2], stride: [2, 2], padding: [1, 1], ceilMode: true }, 'ceil mode drops a window in the padding'],
  [[1, 2, 7, 6], { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [2, 2] }, 'dilation 2'],
  [[2, 1, 5, 7], { kernel: [2, 3], stride: [1, 2], padding: [1, 0] }, 'non-square kernel and stride'],
  [[1, 1, 3, 3], { kernel: [3, 3] }, 'one window'],
  [[2, 3, 9, 7], { kernel: [3, 3], stride: [2, 2] }, 'Inception reduction 3x3 s2, no padding, odd map'],
  [[1, 1, 1, 1], { kernel: [1, 1] }, 'single pixel'],
];

const AVG_POOLS: PoolCase[] = [
  [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }, '3x3 s2 p1, pad counted'],
  [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false }, '3x3 s2 p1, pad not counted'],
  [[1, 2, 5, 6], { kernel: [2, 2], stride: [2, 2], padding: [1, 1], ceilMode: true }, 'ceil mode, window clipped at the padded border'],
  [[1, 2, 5, 6], { kernel: [3, 2], stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: false }, 'ceil mode, pad not counted'],
  [[1, 2, 6, 5], { kernel: [2, 2] }, 'default stride, odd width'],
  [[1, 1, 1, 1], { kernel: [1, 1] }, 'single pixel'],
  [[2, 3, 7, 7], { kernel: [2, 2], stride: [2, 2], ceilMode: true, countIncludePad: false }, 'ResNet-D shortcut on an odd map: a partial last window'],
  [[2, 3, 5, 6], { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }, 'Inception v3 branch pool 3x3 s1 p1, pad counted'],
  [[2, 3, 5, 6], { kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: false }, 'Inception v4 branch pool 3x3 s1 p1, pad not counted'],
];

const describePool = (shape: number[], o: PoolRefOptions) =>
  `[${shape.join(',')}] k${o.kernel.join('x')}` +
  (o.stride ? ` s${o.stride.join('x')}` : '') +
  (o.padding ? ` p${o.padding.join('x')}` : '') +
  (o.dilation ? ` d${o.dilation.join('x')}` : '');

const ADAPTIVE: [number[], [number, number], string][] = [
  [[2, 3, 7, 5], [1, 1], 'global, 35 pixels'],
  [[2, 2, 9, 7], [1, 1], 'global, 63 pixels'],
  [[1, 2, 16, 20], [1, 1], 'global, 320 pixels'],
  [[2, 3, 7, 5], [3, 2], 'non-divisible bins'],
  [[1, 2, 3, 5], [4, 7], 'more bins than pixels'],
  [[1, 2, 8, 6], [4, 3], 'divisible bins'],
  [[2, 3, 3, 3], [7, 7], 'VGG ConvMlp: a 3x3 map up to the 7x7 kernel'],
  [[1, 2, 1, 1], [7, 7], 'VGG ConvMlp: one pixel up to 7x7'],
];

export const poolingCases: OpCase[] = [
  ...MAX_POOLS.map(([shape, o, what]): OpCase => ({
    name: `maxPool2d ${describePool(shape, o)}${o.ceilMode ? ' ceil' : ''} (${what})`,
    inputs: [{ shape, init: distinct }],
    gpu: ([x]) => ops.maxPool2d(x!, o),
    ref: ([x]) => maxPoolRef(x!, o),
    edges: maxEdges(shape),
  })),
  ...AVG_POOLS.map(([shape, o, what]): OpCase => ({
    name: `avgPool2d ${describePool(shape, o)}${o.ceilMode ? ' ceil' : ''} (${what})`,
    inputs: [{ shape }],
    gpu: ([x]) => ops.avgPool2d(x!, o),
    ref: ([x]) => avgPoolRef(x!, o),
  })),
  ...ADAPTIVE.map(([shape, out, what]): OpCase => ({
    name: `adaptiveAvgPool2d [${shape.join(',')}] -> ${out.join('x')} (${what})`,
    inputs: [{ shape }],
    gpu: ([x]) => ops.adaptiveAvgPool2d(x!, out),
    ref: ([x]) => adaptiveAvgPoolRef(x!, out),
  })),
];

const STEM: PoolRefOptions = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
const TIED = [1, 2, 7, 9];

/** max pooling's derivative convention at ties (a table row of its own, see test/ops.test.ts). */
export const maxPoolAtTies: OpCase = {
  name: 'maxPool2d 3x3 s2 p1 at ties: the tangent of the first maximal tap',
  inputs: [{ shape: TIED, init: distinct }],
  gpu: ([x]) => ops.maxPool2d(x!, STEM),
  ref: ([x]) => maxPoolRef(x!, STEM),
  conventions: [
    {
      what: 'max-pool ties go to the first maximal tap in row-major order',
      // four levels on anti-diagonals, so most windows tie across rows and columns (row-
      // and column-major order disagree); overlapping windows share tied taps; the
      // all-negative second plane keeps the -inf padding out
      inputs: [{ shape: TIED, values: Array.from({ length: count(TIED) }, (_, i) => ((i * 3) % 4) - (i < count(TIED) / 2 ? 0 : 9)) }],
      tangents: [0, 1].map((k) => [Array.from({ length: count(TIED) }, (_, i) => ((i * 37 + k * 11) % 127) - 63)]),
      jvp: ([x], [v]) => maxPoolJvpRef(x!, v!, STEM),
    },
  ],
};
