import { ops, type Operand } from '../../engine/index.js';
import type { ConvAlgorithm, DirectConvTiling } from '../../engine/ops/conv.js';
import type { EdgeInput, OpCase } from '../helpers/optest.js';
import { conv2dRef, type ConvRefOptions } from '../ref/conv.js';
import { binaryRef, reluJvpRef, unaryRef } from '../ref/elementwise.js';
import { ADD_KINK_A, ADD_KINK_B } from './elementwise.js';

interface ConvRow {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  o?: ConvRefOptions;
  /** edge-value input sets (x, w, bias), checked on the forward of every algorithm */
  edges?: EdgeInput[][];
}

/** A row run with `algorithm` forced (auto picks by adapter; both kernels need checking),
 * and for the direct kernel optionally its tiling. */
function convCase({ name, x, w, bias = false, o = {}, edges }: ConvRow, algorithm: ConvAlgorithm = 'auto', direct?: DirectConvTiling): OpCase {
  const opts = { ...o, algorithm, ...(direct ? { direct } : {}) };
  const tiling = direct ? ` ${direct.rm}x${direct.rn}${direct.subgroups ? ' subgroups' : ''}${direct.kblock ? ` kblock ${direct.kblock}` : ''}` : '';
  return {
    name: `conv2d ${name}${algorithm === 'auto' ? '' : ` [${algorithm}${tiling}]`}`,
    inputs: [{ shape: x }, { shape: w, constant: true }, ...(bias ? [{ shape: [w[0]!], constant: true }] : [])],
    gpu: ([xi, wi, bi]) => ops.conv2d(xi!, wi!, (bi as Operand | undefined) ?? null, opts),
    ref: ([xi, wi, bi]) => conv2dRef(xi!, wi!, bi ?? null, o),
    edges,
  };
}

const fill = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

const rows: ConvRow[] = [
  {
    name: '3x3 stride 1 pad 1 with bias',
    x: [1, 4, 8, 8],
    w: [6, 4, 3, 3],
    bias: true,
    o: { padding: [1, 1] },
    edges: [
      // zero input: the output is exactly the bias
      [
        { shape: [1, 4, 8, 8], values: fill(256, () => 0) },
        { shape: [6, 4, 3, 3], values: fill(216, (i) => Math.sin(i)) },
        { shape: [6], values: [1, -2, 0.5, 0, 3, -0.25] },
      ],
      // large and tiny magnitudes of both signs
      [
        { shape: [1, 4, 8, 8], values: fill(256, (i) => (i % 3 === 0 ? 1e4 : i % 3 === 1 ? -1e-3 : 5.5) * (i % 2 ? -1 : 1)) },
        { shape: [6, 4, 3, 3], values: fill(216, (i) => Math.cos(i)) },
        { shape: [6], values: [0, 0, 0, 0, 0, 0] },
      ],
    ],
  },
  { name: '7x7 stride 2 pad 3 (ResNet stem)', x: [1, 3, 15, 15], w: [8, 3, 7, 7], o: { stride: [2, 2], padding: [3, 3] } },
  { name: '1x1 with bias, batch 2 (pointwise)', x: [2, 8, 5, 5], w: [6, 8, 1, 1], bias: true },
  { name: '1x1 Cin=7 (channel tail), 5x7 map', x: [1, 7, 5, 7], w: [3, 7, 1, 1], bias: true },
  { name: '1x1 stride 2 (ResNet downsample)', x: [1, 8, 7, 7], w: [6, 8, 1, 1], o: { stride: [2, 2] } },
  { name: 'grouped (groups=2) 3x3 pad 1 with bias', x: [1, 6, 7, 7], w: [4, 3, 3, 3], bias: true, o: { padding: [1, 1], groups: 2 } },
  { name: 'depthwise 7x7 pad 3 with bias', x: [1, 4, 9, 9], w: [4, 1, 7, 7], bias: true, o: { padding: [3, 3], groups: 4 } },
  { name: 'depthwise 7x7 pad 3, batch 2, wide map', x: [2, 3, 13, 30], w: [3, 1, 7, 7], o: { padding: [3, 3], groups: 3 } },
  { name: 'depthwise 3x3 stride 2 pad 1', x: [1, 4, 11, 11], w: [4, 1, 3, 3], o: { stride: [2, 2], padding: [1, 1], groups: 4 } },
  { name: 'depthwise 3x3 stride 2 pad 1, mid-width map', x: [1, 3, 9, 27], w: [3, 1, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1], groups: 3 } },
  { name: 'depthwise 3x3 dilation 2 pad 2', x: [1, 2, 8, 8], w: [2, 1, 3, 3], o: { padding: [2, 2], dilation: [2, 2], groups: 2 } },
  { name: 'depthwise channel multiplier 2 (GEMM path)', x: [1, 3, 6, 6], w: [6, 1, 3, 3], bias: true, o: { padding: [1, 1], groups: 3 } },
  { name: '3x3 dilation 2 pad 2', x: [1, 3, 10, 10], w: [4, 3, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } },
  { name: 'odd sizes Cin=3 H=W=9 Cout=5', x: [1, 3, 9, 9], w: [5, 3, 3, 3], bias: true, o: { padding: [1, 1] } },
  { name: 'batch 2, 3x3 stride 2 pad 1', x: [2, 4, 6, 6], w: [5, 4, 3, 3], o: { stride: [2, 2], padding: [1, 1] } },
  { name: 'padding 3 > kernel/2 (3x3)', x: [1, 2, 5, 5], w: [3, 2, 3, 3], bias: true, o: { padding: [3, 3] } },
  { name: 'asymmetric 1x5, padding [2,1], stride [1,2]', x: [1, 3, 5, 9], w: [4, 3, 1, 5], o: { padding: [2, 1], stride: [1, 2] } },
  { name: 'Inception 1x7 pad [0,3]', x: [2, 3, 5, 9], w: [4, 3, 1, 7], o: { padding: [0, 3] } },
  { name: 'Inception 7x1 pad [3,0]', x: [1, 4, 9, 5], w: [3, 4, 7, 1], o: { padding: [3, 0] } },
  { name: 'Inception 3x1 pad [1,0] with bias', x: [1, 5, 4, 3], w: [6, 5, 3, 1], bias: true, o: { padding: [1, 0] } },
  { name: 'depthwise 9x9 pad 4 with bias (ConvMixer)', x: [2, 3, 8, 8], w: [3, 1, 9, 9], bias: true, o: { padding: [4, 4], groups: 3 } },
  { name: 'sizes 1 (1x1x1x1 input, 1x1 kernel)', x: [1, 1, 1, 1], w: [1, 1, 1, 1], bias: true },
  { name: 'several tiles: Cout=70, Cin=20, 9x9, 3x3 pad 1', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } },
  { name: 'pointwise several tiles: Cout=70, Cin=40, batch 2, 9x9', x: [2, 40, 9, 9], w: [70, 40, 1, 1], bias: true },
];

export const convCases: OpCase[] = [
  ...rows.map((r) => convCase(r)),
  ...rows.map((r) => convCase(r, 'implicit-gemm')),
  ...rows.map((r) => convCase(r, 'direct')),
  ...rows.filter((r) => r.o?.groups === r.x[1] && r.w[0] === r.x[1]).map((r) => convCase(r, 'depthwise')),
  ...rows.filter((r) => r.w[2] === 1 && r.w[3] === 1 && !r.o?.stride && !r.o?.padding && !r.o?.groups).map((r) => convCase(r, 'matmul')),
];

/** ResNet-50's own layer shapes (reduced in batch and, for the widest, in channels), on
 * rows of their own at the table's end (rows are seeded by position): the 1x1 reduce
 * and expand, the 3x3 at stride 1 and 2, the stride-2 downsample, on 14x14 and 7x7 maps. */
const resnetRows: ConvRow[] = [
  { name: 'ResNet-50 layer3 1x1 256->64 at 14x14', x: [1, 256, 14, 14], w: [64, 256, 1, 1] },
  { name: 'ResNet-50 layer3 3x3 pad 1 64->64 at 14x14, batch 2', x: [2, 64, 14, 14], w: [64, 64, 3, 3], o: { padding: [1, 1] } },
  { name: 'ResNet-50 layer4 3x3 stride 2 pad 1 128->128, 14x14 -> 7x7', x: [1, 128, 14, 14], w: [128, 128, 3, 3], o: { stride: [2, 2], padding: [1, 1] } },
  { name: 'ResNet-50 layer4 1x1 128->512 at 7x7 with bias (a folded BatchNorm)', x: [1, 128, 7, 7], w: [512, 128, 1, 1], bias: true },
  { name: 'ResNet-50 downsample 1x1 stride 2 256->128, 14x14 -> 7x7', x: [1, 256, 14, 14], w: [128, 256, 1, 1], o: { stride: [2, 2] } },
];

export const resnetShapeCases: OpCase[] = resnetRows.flatMap((r) => [convCase(r), convCase(r, 'direct'), convCase(r, 'implicit-gemm')]);

/** The direct kernel with weight loads shared over the adapter's subgroups (the CPU
 * drivers' default), forced at each tiling the adapters pick, and twice without: channel blocks past Cout
 * and past a group's end, a workgroup whose later subgroups have no segments and one
 * partly past the end (lanes that compute and store nothing), strides, dilation, the
 * stem. Where the adapter has no fixed subgroup size dividing rm the plain kernel runs. */
const subgroupRows: [ConvRow, DirectConvTiling][] = [
  [{ name: '3x3 pad 1, Cout=70 (ragged channel blocks), 9x9 with bias', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, { rm: 32, rn: 8, subgroups: true }],
  [{ name: '1x1 batch 2, Cout=70, 9x9 with bias (flat rows, 12 of 64 lanes live)', x: [2, 40, 9, 9], w: [70, 40, 1, 1], bias: true }, { rm: 16, rn: 16, subgroups: true }],
  [{ name: 'grouped (groups=2) 3x3 pad 1, 8 channels a block past the group', x: [1, 6, 7, 7], w: [4, 3, 3, 3], bias: true, o: { padding: [1, 1], groups: 2 } }, { rm: 8, rn: 8, subgroups: true }],
  [{ name: 'batch 2, 3x3 stride 2 pad 1', x: [2, 12, 11, 11], w: [40, 12, 3, 3], o: { stride: [2, 2], padding: [1, 1] } }, { rm: 32, rn: 8, subgroups: true }],
  [{ name: '7x7 stride 2 pad 3 (ResNet stem)', x: [1, 3, 15, 15], w: [16, 3, 7, 7], o: { stride: [2, 2], padding: [3, 3] } }, { rm: 8, rn: 4, subgroups: true }],
  [{ name: '3x3 dilation 2 pad 2', x: [1, 3, 10, 10], w: [8, 3, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } }, { rm: 8, rn: 4, subgroups: true }],
  [{ name: '1x1 stride 2 (ResNet downsample)', x: [1, 16, 7, 7], w: [36, 16, 1, 1], o: { stride: [2, 2] } }, { rm: 32, rn: 4, subgroups: true }],
  [{ name: 'ResNet-50 layer3 3x3 pad 1 64->64 at 14x14, batch 2', x: [2, 64, 14, 14], w: [64, 64, 3, 3], o: { padding: [1, 1] } }, { rm: 32, rn: 8, subgroups: true }],
  [{ name: 'ResNet-50 layer3 1x1 256->64 at 14x14', x: [1, 256, 14, 14], w: [64, 256, 1, 1] }, { rm: 16, rn: 16, subgroups: true }],
  // the plain kernel, which adapters without a fixed subgroup size run
  [{ name: '3x3 pad 1, Cout=70, 9x9 with bias, unshared', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, { rm: 16, rn: 16 }],
  [{ name: '1x1 batch 2, Cout=70, 9x9, unshared', x: [2, 40, 9, 9], w: [70, 40, 1, 1] }, { rm: 32, rn: 8 }],
];

export const subgroupConvCases: OpCase[] = subgroupRows.map(([r, t]) => convCase(r, 'direct', t));

/** relu(conv(x) + b), the epilogue fused in the direct kernel (tangents masked by the
 * value, for every batch entry of the K*B tangent batch) and composed on the other
 * paths. The float64 step is small so a central difference does not straddle the kink. */
function convReluCase(r: ConvRow, algorithm: ConvAlgorithm, direct?: DirectConvTiling): OpCase {
  const c = convCase(r, algorithm, direct);
  const opts = { ...r.o, algorithm, ...(direct ? { direct } : {}), relu: true };
  return {
    ...c,
    name: `${c.name.replace(/^conv2d/, 'conv2d+relu')}`,
    gpu: ([xi, wi, bi]) => ops.conv2d(xi!, wi!, (bi as Operand | undefined) ?? null, opts),
    ref: (xs) => unaryRef('relu')(c.ref(xs)),
    h: 1e-7,
  };
}

const reluRows: [ConvRow, ConvAlgorithm, DirectConvTiling?][] = [
  [{ name: '3x3 pad 1, Cout=70, 9x9 with bias', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', { rm: 32, rn: 8, subgroups: true }],
  [{ name: '3x3 pad 1, batch 2, Cout=70 with bias', x: [2, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', { rm: 16, rn: 16 }],
  [{ name: '1x1 batch 2, Cout=70, 9x9 with bias (flat rows)', x: [2, 40, 9, 9], w: [70, 40, 1, 1], bias: true }, 'direct', { rm: 64, rn: 8, subgroups: true }],
  [{ name: '1x1 batch 3, Cout=6, 5x5', x: [3, 8, 5, 5], w: [6, 8, 1, 1] }, 'direct', { rm: 16, rn: 16, subgroups: true }],
  [{ name: '7x7 stride 2 pad 3 (ResNet stem), batch 2', x: [2, 3, 15, 15], w: [16, 3, 7, 7], bias: true, o: { stride: [2, 2], padding: [3, 3] } }, 'auto'],
  [{ name: 'batch 2, 3x3 stride 2 pad 1', x: [2, 12, 11, 11], w: [40, 12, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } }, 'implicit-gemm'],
  [{ name: '1x1 batch 2 with bias (pointwise)', x: [2, 8, 5, 5], w: [6, 8, 1, 1], bias: true }, 'matmul'],
  [{ name: 'depthwise 3x3 pad 1 with bias', x: [2, 4, 9, 9], w: [4, 1, 3, 3], bias: true, o: { padding: [1, 1], groups: 4 } }, 'depthwise'],
];

export const convReluCases: OpCase[] = reluRows.map(([r, a, t]) => convReluCase(r, a, t));

/** The compact tiles small convolutions take on CPU drivers, forced on the demo ResNet's
 * shapes (64-channel stem at 32 px, a 3x3 at 8x8, one on a 2x2 map) with fused ReLU. */
const compactRows: [ConvRow, DirectConvTiling][] = [
  [{ name: '7x7 stride 2 pad 3, 3->64 at 32x32 (demo stem) with bias', x: [1, 3, 32, 32], w: [64, 3, 7, 7], bias: true, o: { stride: [2, 2], padding: [3, 3] } }, { rm: 8, rn: 8, subgroups: true }],
  [{ name: '3x3 pad 1, 16->16 at 8x8, batch 2', x: [2, 16, 8, 8], w: [16, 16, 3, 3], o: { padding: [1, 1] } }, { rm: 8, rn: 4, subgroups: true }],
  [{ name: '3x3 pad 1, 24->40 at 2x2 with bias (ragged channel block)', x: [2, 24, 2, 2], w: [40, 24, 3, 3], bias: true, o: { padding: [1, 1] } }, { rm: 16, rn: 4, subgroups: true }],
];

export const compactConvCases: OpCase[] = compactRows.flatMap(([r, t]) => [convCase(r, 'direct', t), convReluCase(r, 'direct', t)]);

/** Accumulator-major blocks (`kblock`, lavapipe's large tiles): blocks of one and more
 * channels with a remainder loop past the last full block, flat rows, padding, stride,
 * dilation, ragged channel blocks, shared and unshared weight loads, and the exact
 * tilings lavapipe takes on a ResNet-50 layer4 3x3 and a 1x1 row. */
const kblockRows: [ConvRow, DirectConvTiling][] = [
  [{ name: '1x1 batch 2, 7->70 at 9x9 with bias (flat, 3 blocks of 2 and 1 left)', x: [2, 7, 9, 9], w: [70, 7, 1, 1], bias: true }, { rm: 16, rn: 8, subgroups: true, kblock: 2 }],
  [{ name: '1x1 batch 3, 10->12 at 5x5 (flat, 2 blocks of 4 and 2 left)', x: [3, 10, 5, 5], w: [12, 10, 1, 1] }, { rm: 8, rn: 4, subgroups: true, kblock: 4 }],
  [{ name: '1x1 12->64 at 9x9 with bias (lavapipe 1x1 rows)', x: [1, 12, 9, 9], w: [64, 12, 1, 1], bias: true }, { rm: 64, rn: 8, subgroups: true, kblock: 2 }],
  [{ name: '3x3 pad 1, 20->70 at 9x9 with bias (ragged channel blocks)', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, { rm: 32, rn: 8, subgroups: true, kblock: 1 }],
  [{ name: 'batch 2, 3x3 stride 2 pad 1', x: [2, 12, 11, 11], w: [40, 12, 3, 3], o: { stride: [2, 2], padding: [1, 1] } }, { rm: 8, rn: 8, subgroups: true, kblock: 1 }],
  [{ name: '3x3 dilation 2 pad 2, 5 channels in blocks of 2 and 1 left, unshared', x: [1, 5, 10, 10], w: [8, 5, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } }, { rm: 8, rn: 4, kblock: 2 }],
  [{ name: 'ResNet-50 layer4 3x3 pad 1 512->512 at 7x7 (lavapipe)', x: [1, 512, 7, 7], w: [512, 512, 3, 3], o: { padding: [1, 1] } }, { rm: 32, rn: 8, subgroups: true, kblock: 1 }],
];

export const kblockConvCases: OpCase[] = kblockRows.flatMap(([r, t], i) => [convCase(r, 'direct', t), ...(i < 4 ? [convReluCase(r, 'direct', t)] : [])]);

const outShape = (r: ConvRow): number[] => {
  const [sh, sw] = r.o?.stride ?? [1, 1];
  const [ph, pw] = r.o?.padding ?? [0, 0];
  const [dh, dw] = r.o?.dilation ?? [1, 1];
  const out = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
  return [r.x[0]!, r.w[0]!, out(r.x[2]!, r.w[2]!, sh, ph, dh), out(r.x[3]!, r.w[3]!, sw, pw, dw)];
};

/** conv(x) + b + r, through the ReLU or not (a residual block's last convolution and
 * its end): the shortcut r, with its own tangents, last among the inputs. */
function convResidualCase(r: ConvRow, algorithm: ConvAlgorithm, relu: boolean, direct?: DirectConvTiling, constantX = false): OpCase {
  const c = convCase(r, algorithm, direct);
  const res = r.bias ? 3 : 2;
  return {
    ...c,
    name: `${c.name.replace(/^conv2d/, relu ? 'conv2d+residual+relu' : 'conv2d+residual')}${constantX ? ' (constant x)' : ''}`,
    inputs: [{ shape: r.x, ...(constantX ? { constant: true } : {}) }, ...c.inputs.slice(1), { shape: outShape(r) }],
    gpu: (xs) =>
      ops.conv2d(xs[0]!, xs[1]!, r.bias ? (xs[2] as Operand) : null, {
        ...r.o,
        algorithm,
        ...(direct ? { direct } : {}),
        relu,
        residual: xs[res]!,
      }),
    ref: (xs) => {
      const z = binaryRef('add')(c.ref(xs.slice(0, res)), xs[res]!);
      return relu ? unaryRef('relu')(z) : z;
    },
    ...(relu ? { h: 1e-7 } : {}),
  };
}

// conv(x; w = 1) + r = x + r: add's kink inputs
const [RES_KINK_X, RES_KINK_R] = [ADD_KINK_A, ADD_KINK_B];

export const residualConvCases: OpCase[] = [
  convResidualCase({ name: '3x3 pad 1, 20->70 at 9x9 with bias', x: [1, 20, 9, 9], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', true, { rm: 32, rn: 8, subgroups: true, kblock: 1 }),
  convResidualCase({ name: '1x1 batch 2, 12->64 at 9x9 with bias (flat)', x: [2, 12, 9, 9], w: [64, 12, 1, 1], bias: true }, 'direct', true, { rm: 64, rn: 8, subgroups: true, kblock: 2 }),
  convResidualCase({ name: '1x1 batch 2, 8->6 at 5x5', x: [2, 8, 5, 5], w: [6, 8, 1, 1] }, 'direct', false),
  convResidualCase({ name: 'batch 2, 3x3 stride 2 pad 1 with bias', x: [2, 12, 11, 11], w: [40, 12, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } }, 'direct', true, { rm: 16, rn: 16 }),
  convResidualCase({ name: '3x3 pad 1, 6->8 at 7x7 with bias', x: [2, 6, 7, 7], w: [8, 6, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', true, undefined, true),
  convResidualCase({ name: 'batch 2, 3x3 stride 2 pad 1 with bias', x: [2, 12, 11, 11], w: [40, 12, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } }, 'implicit-gemm', true),
  convResidualCase({ name: '1x1 batch 2 with bias (pointwise)', x: [2, 8, 5, 5], w: [6, 8, 1, 1], bias: true }, 'matmul', true),
  convResidualCase({ name: '1x1 batch 2 (pointwise)', x: [2, 8, 5, 5], w: [6, 8, 1, 1] }, 'matmul', false),
  {
    ...convResidualCase({ name: '1x1 w = 1 at the kink', x: [1, 1, 3, 4], w: [1, 1, 1, 1] }, 'direct', true),
    conventions: [
      {
        what: "relu'(0) = 0 where conv(x) + b + r is exactly 0 (also -0)",
        inputs: [
          { shape: [1, 1, 3, 4], values: RES_KINK_X },
          { shape: [1, 1, 1, 1], values: [1] },
          { shape: [1, 1, 3, 4], values: RES_KINK_R },
        ],
        tangents: [
          [RES_KINK_X.map((_, i) => (i % 2 ? -1 : 1) * (1 + i / 8)), RES_KINK_X.map((_, i) => (i % 3) - 1.25)],
          [RES_KINK_X.map((_, i) => (i % 3) - 1.25), RES_KINK_X.map((_, i) => 0.5 - i / 16)],
        ],
        jvp: ([x, w, r], [vx, , vr]) => reluJvpRef(binaryRef('add')(conv2dRef(x!, w!, null), r!), binaryRef('add')(conv2dRef(vx!, w!, null), vr!)),
      },
    ],
  },
];

/** Output rows of whole vec4s (Wout % 4 == 0, a flat row's H*W too): the direct kernel's
 * epilogue stores and loads the ReLU mask and the residual a vec4 at a time. Segments
 * that end half past the row, flat and row-wise, stride 2, groups, shared and unshared
 * weight loads, with and without the residual and the ReLU. */
export const vec4ConvCases: OpCase[] = [
  convResidualCase({ name: '3x3 pad 1, 20->70 at 12x12 with bias (vec4 rows, half a segment past)', x: [1, 20, 12, 12], w: [70, 20, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', true, { rm: 32, rn: 8, subgroups: true, kblock: 1 }),
  convResidualCase({ name: '1x1 batch 2, 12->64 at 6x6 with bias (flat vec4 row of 36)', x: [2, 12, 6, 6], w: [64, 12, 1, 1], bias: true }, 'direct', true, { rm: 64, rn: 8, subgroups: true, kblock: 2 }),
  convResidualCase({ name: 'batch 2, 3x3 stride 2 pad 1, 12->40 at 15x15 with bias (vec4 rows of 8)', x: [2, 12, 15, 15], w: [40, 12, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } }, 'direct', true, { rm: 16, rn: 16 }),
  convResidualCase({ name: '1x1 batch 2, 8->6 at 4x4 (flat vec4 row of 16)', x: [2, 8, 4, 4], w: [6, 8, 1, 1] }, 'direct', false),
  convResidualCase({ name: '3x3 pad 1, 6->8 at 8x8 with bias (vec4 rows)', x: [2, 6, 8, 8], w: [8, 6, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', true, undefined, true),
  convReluCase({ name: '1x1 groups 2, batch 2, 16->12 at 4x4 with bias (flat vec4, ragged channel block)', x: [2, 16, 4, 4], w: [12, 8, 1, 1], bias: true, o: { groups: 2 } }, 'direct', { rm: 8, rn: 4, subgroups: true }),
  convCase({ name: '3x3 pad 1, 5->9 at 8x8 (vec4 rows, half a segment past)', x: [1, 5, 8, 8], w: [9, 5, 3, 3], o: { padding: [1, 1] } }, 'direct', { rm: 16, rn: 16 }),
];

/** Input rows of whole vec4s (W % 4 == 0, not flat): a row span is loaded as the aligned
 * vec4s that cover it, for every width padding mod 4 (the span's offset from them),
 * with stride, dilation, padding wider than a vec4 and rows of one vec4. */
export const rowVec4ConvCases: OpCase[] = [
  convCase({ name: '3x3 pad 1 at 8x8, batch 2 with bias (input rows of vec4s, offset 3)', x: [2, 6, 8, 8], w: [10, 6, 3, 3], bias: true, o: { padding: [1, 1] } }, 'direct', { rm: 8, rn: 8, subgroups: true, kblock: 1 }),
  convResidualCase({ name: 'batch 2, 3x3 stride 2 pad 1, 12->40 at 16x16 with bias (input rows of vec4s)', x: [2, 12, 16, 16], w: [40, 12, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1] } }, 'direct', true, { rm: 16, rn: 16 }),
  convReluCase({ name: '7x7 stride 2 pad 3, 3->16 at 20x20 with bias (offset 1)', x: [1, 3, 20, 20], w: [16, 3, 7, 7], bias: true, o: { stride: [2, 2], padding: [3, 3] } }, 'direct', { rm: 16, rn: 8, subgroups: true }),
  convCase({ name: '3x3 dilation 2 pad 2 at 12x12 (offset 2)', x: [1, 5, 12, 12], w: [8, 5, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } }, 'direct', { rm: 8, rn: 4, kblock: 2 }),
  convCase({ name: '1x1 stride 2 at 8x8 (offset 0)', x: [2, 8, 8, 8], w: [6, 8, 1, 1], o: { stride: [2, 2] } }, 'direct', { rm: 8, rn: 4, subgroups: true }),
  convCase({ name: '3x3 pad 5 at 4x12, rows of one and three vec4s (offset 3, two vec4s of padding)', x: [1, 4, 4, 12], w: [6, 4, 3, 3], o: { padding: [5, 5] } }, 'direct', { rm: 8, rn: 8 }),
  convCase({ name: '5x5 pad 2 at 4x4, a row of one vec4 (offset 2)', x: [1, 3, 4, 4], w: [4, 3, 5, 5], o: { padding: [2, 2] } }, 'direct', { rm: 4, rn: 4 }),
];
