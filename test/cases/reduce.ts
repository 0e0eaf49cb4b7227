import { ops } from '../../engine/index.js';
import type { EdgeInput, OpCase } from '../helpers/optest.js';
import { distinct, type Rng } from '../helpers/random.js';
import type { ND } from '../ref/ndarray.js';
import { logSoftmaxRefAt, maxJvpRef, maxRef, meanRef, softmaxRefAt, sumRef } from '../ref/reduce.js';

type Axes = number | number[] | undefined;

/** [shape, axes, keepDims, what it exercises] */
const REDUCTIONS: [number[], Axes, boolean, string][] = [
  [[3, 5, 7], -1, false, 'last axis, short rows'],
  [[3, 5, 7], [0, 2], true, 'non-adjacent axes, keepDims'],
  [[2, 3, 4, 5], [-1, -2], false, 'two trailing axes given negative'],
  [[4, 6], undefined, false, 'every axis'],
  [[1, 5, 1], 0, true, 'size-1 axis'],
  [[2, 1000], 1, false, 'long rows'],
  [[300, 3], 0, false, 'long strided column'],
  [[2, 37, 3], 1, true, 'middle axis, odd length'],
  [[2, 3, 2, 4, 3], [1, 3], false, 'three kept groups (general strided view)'],
  [[1, 9000], -1, false, 'one long row'],
];

/** Ties, equal rows, large magnitudes, a NaN (max propagates it). */
const tieEdges: EdgeInput[][] = [
  [{ shape: [3, 4], values: [1, 3, 3, 0, -2, -2, -2, -2, 5, -1e4, 5, 1e4] }],
  [{ shape: [2, 20], values: Array.from({ length: 40 }, (_, i) => (i * 7) % 5) }],
  [{ shape: [2, 20], values: Array.from({ length: 40 }, (_, i) => (i === 33 ? NaN : i % 3)) }],
  [{ shape: [2, 3], values: [1, NaN, 2, -1, -3, -2] }],
];

const name = (op: string, shape: number[], axes: Axes, keep: boolean, what: string) =>
  `${op} [${shape.join(',')}] axes ${axes === undefined ? 'all' : JSON.stringify(axes)}${keep ? ' keepDims' : ''} (${what})`;

const reductionCases: OpCase[] = REDUCTIONS.flatMap(([shape, axes, keep, what]): OpCase[] => [
  {
    name: name('sum', shape, axes, keep, what),
    inputs: [{ shape }],
    gpu: ([x]) => ops.sum(x!, axes, keep),
    ref: ([x]) => sumRef(x!, axes, keep),
  },
  {
    name: name('mean', shape, axes, keep, what),
    inputs: [{ shape }],
    gpu: ([x]) => ops.mean(x!, axes, keep),
    ref: ([x]) => meanRef(x!, axes, keep),
  },
  {
    name: name('max', shape, axes, keep, what),
    // normals can hold a near-tie at a row's max, where a central difference averages two branches
    inputs: [{ shape, init: distinct }],
    gpu: ([x]) => ops.max(x!, axes, keep),
    ref: ([x]) => maxRef(x!, axes, keep),
  },
]);

/** Logits far apart: exp overflows without the max subtraction. */
const largeLogits: EdgeInput[][] = [
  [{ shape: [2, 5], values: [50, -50, 49, 0, 50, -50, -49.5, -50, 10, -20] }],
  [{ shape: [1, 4], values: [88, 89, 90, 100] }],
];

/** [shape, axis, what] */
const SOFTMAXES: [number[], number | undefined, string][] = [
  [[3, 10], undefined, 'last axis'],
  [[2, 1000], -1, 'long row'],
  [[2, 5, 3], 1, 'strided rows (inner 3)'],
  [[4, 1], -1, 'rows of one'],
  [[3, 2, 33], 2, 'odd row length'],
];

const softmaxCases: OpCase[] = SOFTMAXES.flatMap(([shape, axis, what]): OpCase[] => [
  {
    name: `softmax [${shape.join(',')}] axis ${axis ?? -1} (${what})`,
    inputs: [{ shape, init: (rng, n) => rng.normals(n, 2) }],
    gpu: ([x]) => ops.softmax(x!, axis),
    ref: ([x]) => softmaxRefAt(x!, axis),
    edges: shape.length === 2 && shape[1]! > 1 && shape[1]! < 100 ? largeLogits : undefined,
  },
  {
    name: `logSoftmax [${shape.join(',')}] axis ${axis ?? -1} (${what})`,
    inputs: [{ shape, init: (rng, n) => rng.normals(n, 2) }],
    gpu: ([x]) => ops.logSoftmax(x!, axis),
    ref: ([x]) => logSoftmaxRefAt(x!, axis),
    edges: shape.length === 2 && shape[1]! > 1 && shape[1]! < 100 ? largeLogits : undefined,
  },
]);

/** Many long rows: few threads per row, so long serial shares (blocked partial sums). */
const manyRows: OpCase[] = [
  {
    name: 'sum [130,1100] axis 1 (many long rows)',
    inputs: [{ shape: [130, 1100] }],
    gpu: ([x]) => ops.sum(x!, 1),
    ref: ([x]) => sumRef(x!, 1),
  },
  {
    name: 'softmax [130,1100] (many long rows)',
    inputs: [{ shape: [130, 1100] }],
    gpu: ([x]) => ops.softmax(x!),
    ref: ([x]) => softmaxRefAt(x!),
  },
];

export const reduceCases: OpCase[] = [
  ...reductionCases,
  ...manyRows,
  {
    name: 'max [3,4] axis -1 (ties, NaN: edge values)',
    inputs: [{ shape: [3, 4] }],
    gpu: ([x]) => ops.max(x!, -1),
    ref: ([x]) => maxRef(x!, -1),
    edges: tieEdges.filter((e) => e[0]!.shape[0] === 3),
  },
  {
    name: 'max [2,20] / [2,3] axis 1 (ties in long rows, NaN: edge values)',
    inputs: [{ shape: [2, 20] }],
    gpu: ([x]) => ops.max(x!, 1),
    ref: ([x]) => maxRef(x!, 1),
    edges: tieEdges.filter((e) => e[0]!.shape[0] === 2),
  },
  ...softmaxCases,
];

/** Long rows full of ties (five levels), and optionally a higher level at flat indices
 * `tops` scattered over a row, listed out of order. */
const tiedRows = (shape: number[], tops: number[] = []): EdgeInput => {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => ((i * 7) % 5) - 10);
  for (const t of tops) values[t] = 3.5;
  return { shape, values };
};
/** A tangent distinct per element, both signs, so the first tie's entry is none of the others'. */
const distinctTangent = (shape: number[], phase: number): number[][] => [
  Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + phase) * (1 + i / 1e4)),
];
const maxTies = (input: EdgeInput) => ({
  what: 'max ties go to the first maximal element',
  inputs: [input],
  tangents: [distinctTangent(input.shape, 0), distinctTangent(input.shape, 1.3)],
  jvp: ([x]: ND[], [v]: (ND | null)[]) => maxJvpRef(x!, v!, 1),
});

/** max's derivative convention at ties (a table row of its own, see test/ops.test.ts). */
export const maxAtTies: OpCase = {
  name: 'max axis 1 at ties: the tangent of the first maximal element',
  inputs: [{ shape: [2, 1000] }],
  gpu: ([x]) => ops.max(x!, 1),
  ref: ([x]) => maxRef(x!, 1),
  conventions: [
    maxTies(tieEdges[0]![0]!),
    maxTies(tieEdges[1]![0]!),
    // long rows split over threads; strided rows (inner 3)
    maxTies(tiedRows([2, 1000], [1990, 1400, 1003, 1402, 997, 640])),
    maxTies(tiedRows([1, 9000], [8999, 5000, 3001, 7000, 3002])),
    maxTies(tiedRows([2, 37, 3])),
  ],
};

/** Confident rows, as a trained classifier's logits are: one class 9-13 above the rest,
 * so p_top is within ~1e-4 of 1. The JVP of the top class is then a small difference of
 * nearly equal terms; the kernel's form relative to the argmax's tangent keeps it to
 * float32 precision (the textbook p (dx - sum p dx) is off by ~1e-3 relative here). */
const confident = (rng: Rng, n: number): Float64Array =>
  rng.normals(n, 1).map((v, i) => (i % 10 === (Math.floor(i / 10) * 3) % 10 ? v + 9 + (Math.floor(i / 10) % 5) : v));

export const confidentSoftmax: OpCase[] = [
  {
    name: 'softmax [5,10] (confident rows: p_top ~ 1 - 1e-4)',
    inputs: [{ shape: [5, 10], init: confident }],
    gpu: ([x]) => ops.softmax(x!),
    ref: ([x]) => softmaxRefAt(x!),
  },
  {
    name: 'logSoftmax [5,10] (confident rows: p_top ~ 1 - 1e-4)',
    inputs: [{ shape: [5, 10], init: confident }],
    gpu: ([x]) => ops.logSoftmax(x!),
    ref: ([x]) => logSoftmaxRefAt(x!),
  },
];
