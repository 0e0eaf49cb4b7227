import { ops } from '../../engine/index.js';
import type { OpCase } from '../helpers/optest.js';
import { binaryRef, reluJvpRef, unaryRef } from '../ref/elementwise.js';
import { map, type ND } from '../ref/ndarray.js';

const positive = (rng: { uniforms(n: number, lo: number, hi: number): Float64Array }, n: number) => rng.uniforms(n, 0.2, 4);
/** Away from the kinks at 0 (and 6, +-3) so central differences see one side. */
const offKinks = (rng: { normals(n: number, s: number): Float64Array }, n: number) =>
  rng.normals(n, 3).map((v) => (Math.abs(v) < 0.05 || Math.abs(Math.abs(v) - 3) < 0.05 || Math.abs(v - 6) < 0.05 ? v + 0.2 : v));

const EDGE = [0, -0, 1, -1, 5.5, -5.5, 30, -30, 1e-3, -1e-3, 3, -3, 6, 80, -80, 0.5, 1e4, -1e4];
const POSITIVE_EDGE = [1e-6, 1e-3, 0.5, 1, 2, 1e3, 1e6, 3e-7, 4, 9, 16, 100, 1e-4, 7, 0.1];
const edge = (values: number[]) => ({ shape: [values.length], values });
/** zeros of both signs among values on either side */
const RELU_KINK = [0, 1.5, -0, -2, 0, 3e-8, -3e-8, 0, 7, -0, 0, -1e-3];

const unaryCases: [keyof typeof ops & string, string, boolean][] = [
  ['relu', 'relu', false],
  ['relu6', 'relu6', false],
  ['gelu', 'gelu', false],
  ['geluTanh', 'gelu_tanh', false],
  ['silu', 'silu', false],
  ['sigmoid', 'sigmoid', false],
  ['tanh', 'tanh', false],
  ['hardswish', 'hardswish', false],
  ['exp', 'exp', false],
  ['log', 'log', true],
  ['sqrt', 'sqrt', true],
  ['rsqrt', 'rsqrt', true],
  ['square', 'square', false],
];

export const elementwiseCases: OpCase[] = [
  ...unaryCases.map(([fn, op, pos]): OpCase => ({
    name: fn,
    inputs: [{ shape: [3, 5, 7], init: pos ? positive : offKinks }],
    gpu: ([x]) => (ops[fn] as (x: unknown) => ReturnType<typeof ops.relu>)(x),
    ref: ([x]) => unaryRef(op)(x!),
    edges: [[edge(op === 'exp' ? EDGE.filter((v) => v < 80) : pos ? POSITIVE_EDGE : EDGE)]],
  })),
  {
    name: 'affine',
    inputs: [{ shape: [4, 9] }],
    gpu: ([x]) => ops.affine(x!, -2.5, 0.75),
    ref: ([x]) => map(x!, (v) => -2.5 * v + 0.75),
  },
  ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).map(
    (op): OpCase => ({
      name: `${op} (broadcast [2,3,4,5] with [3,1,5])`,
      inputs: [
        { shape: [2, 3, 4, 5] },
        { shape: [3, 1, 5], init: op === 'div' ? (rng, n) => rng.uniforms(n, 0.5, 2).map((v, i) => (i % 2 ? v : -v)) : undefined },
      ],
      gpu: ([a, b]) => ops[op](a!, b!),
      ref: ([a, b]) => binaryRef(op)(a!, b!),
    }),
  ),
  {
    name: 'mul (bias-like constant [4,1,1] times [2,4,3,3])',
    inputs: [{ shape: [4, 1, 1], constant: true }, { shape: [2, 4, 3, 3] }],
    gpu: ([a, b]) => ops.mul(a!, b!),
    ref: ([a, b]) => binaryRef('mul')(a!, b!),
  },
  {
    name: 'mul (squeeze-excitation: [2,4,3,3] times its gate [2,4,1,1], both with tangents)',
    inputs: [{ shape: [2, 4, 3, 3] }, { shape: [2, 4, 1, 1] }],
    gpu: ([a, b]) => ops.mul(a!, b!),
    ref: ([a, b]) => binaryRef('mul')(a!, b!),
  },
  {
    name: 'add (tangent broadcast up: [1,4,1] + constant [2,4,3])',
    inputs: [{ shape: [1, 4, 1] }, { shape: [2, 4, 3], constant: true }],
    gpu: ([a, b]) => ops.add(a!, b!),
    ref: ([a, b]) => binaryRef('add')(a!, b!),
  },
];

/** relu's derivative convention at 0 (a table row of its own, see test/ops.test.ts). */
export const reluAtZero: OpCase = {
  name: "relu at its kink: relu'(0) = 0",
  inputs: [{ shape: [3, 5, 7], init: offKinks }],
  gpu: ([x]) => ops.relu(x!),
  ref: ([x]) => unaryRef('relu')(x!),
  conventions: [
    {
      what: "relu'(0) = 0 (also at -0)",
      inputs: [edge(RELU_KINK)],
      // distinct, both signs: a one-sided difference would pass +v or -v at 0
      tangents: [[RELU_KINK.map((_, i) => (i % 2 ? -1 : 1) * (1 + i / 8))], [RELU_KINK.map((_, i) => (i % 3) - 1.25)]],
      jvp: ([x], [v]) => reluJvpRef(x!, v!),
    },
  ],
};

/** a + b exactly 0 at opposite values and at zeros of both signs, and beside it */
export const ADD_KINK_A = [1.5, -2, 7, 0.25, 0, -0, 3e-8, -3e-8, 2, -1e-3, 0.5, -0];
export const ADD_KINK_B = [-1.5, 2, -7, -0.25, 0, 0, 0, 0, 1, 0, -0.5, -0];
const addReluRef = ([a, b]: ND[]): ND => unaryRef('relu')(binaryRef('add')(a!, b!));

/** relu(a + b) in one pass (a ResNet block's end): same shapes with tangents on both
 * sides, a broadcast operand, a constant one, and relu's convention where a + b = 0. The
 * float64 step is small so a central difference does not straddle the kink. */
export const addReluCases: OpCase[] = [
  {
    name: 'add+relu ([2,8,5,5] + [2,8,5,5], both with tangents)',
    inputs: [{ shape: [2, 8, 5, 5] }, { shape: [2, 8, 5, 5] }],
    gpu: ([a, b]) => ops.addRelu(a!, b!),
    ref: addReluRef,
    h: 1e-7,
  },
  {
    name: 'add+relu (broadcast [2,3,4,5] with [3,1,5])',
    inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3, 1, 5] }],
    gpu: ([a, b]) => ops.addRelu(a!, b!),
    ref: addReluRef,
    h: 1e-7,
  },
  {
    name: 'add+relu ([3,4,6] + constant [3,4,6])',
    inputs: [{ shape: [3, 4, 6] }, { shape: [3, 4, 6], constant: true }],
    gpu: ([a, b]) => ops.addRelu(a!, b!),
    ref: addReluRef,
    h: 1e-7,
    conventions: [
      {
        what: "relu'(0) = 0 where a + b is exactly 0 (also -0)",
        // a + b exactly 0 for opposite values and for zeros of both signs
        inputs: [edge(ADD_KINK_A), edge(ADD_KINK_B)],
        tangents: [[ADD_KINK_A.map((_, i) => (i % 2 ? -1 : 1) * (1 + i / 8))], [ADD_KINK_A.map((_, i) => (i % 3) - 1.25)]],
        jvp: ([a, b], [va]) => reluJvpRef(binaryRef('add')(a!, b!), va!),
      },
    ],
  },
];
