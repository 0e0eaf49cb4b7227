import { runtime } from '../runtime.js';
import type { AdapterProfile } from '../adapter.js';
import { Tensor } from '../tensor.js';
import { dual, primalOf, type Dual, type Operand } from '../dual.js';
import { bind } from '../bind.js';
import { linearInBatch, requireConstant, type PrimitiveTable } from '../primitives.js';
import { UniformWriter } from '../../shaders/common.js';
import { add, addRelu, relu } from './elementwise.js';
import { matmulTensor } from './matmul.js';
import {
  depthwiseKernel,
  depthwiseKey,
  depthwisePatch,
  directKernel,
  directKey,
  DIRECT_WG,
  ConvAct,
  implicitGemmKernel,
  implicitGemmKey,
  type DepthwiseSpec,
  type DirectSpec,
  type ImplicitGemmTiling,
} from '../../shaders/conv.js';

/** Resolved conv2d parameters, each [height, width]. */
export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  algorithm: ConvAlgorithm;
  /** the direct kernel's tiling, forced (tests); else picked per adapter and shape */
  direct?: DirectConvTiling;
  /** the output through ReLU: in the direct kernel's epilogue (the tangents masked there
   * by the value), else a ReLU after the convolution */
  relu: boolean;
}

/** Outputs per thread of the direct kernel: `rm` channels times `rn` adjacent outputs of
 * a row (a multiple of 4); `subgroups`: lanes share the weight loads (lane l loads
 * channel m0 + l and broadcasts it) where the adapter's fixed subgroup size divides rm;
 * `kblock`: input channels whose operands are loaded before any accumulator takes its
 * FMAs (accumulator-major order; filters of at most 3 rows), else tap by tap. */
export interface DirectConvTiling {
  rm: number;
  rn: number;
  subgroups?: boolean;
  kblock?: number;
}

/** Which kernel runs a convolution. `auto` picks by adapter and shape; the others force
 * one (tests and benchmarks). `depthwise` needs groups == Cin == Cout; `matmul` a 1x1,
 * stride-1, unpadded, ungrouped convolution. */
export type ConvAlgorithm = 'auto' | 'implicit-gemm' | 'direct' | 'depthwise' | 'matmul';

export interface ConvParams {
  conv2d: Conv2dParams;
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** zero padding on both sides of each axis, as PyTorch's `padding` */
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  algorithm?: ConvAlgorithm;
  direct?: DirectConvTiling;
  /** relu(conv(x) + b), fused where it can be (models fuse conv + BatchNorm + ReLU) */
  relu?: boolean;
  /** conv(x) + b + residual (before the ReLU), [B, Cout, Hout, Wout]: a residual block's
   * end in the direct kernel's epilogue, else an add after the convolution */
  residual?: Operand;
}

const MAX_GROUPS = 65535;
/** WebGPU's guaranteed workgroup storage is 16 KiB; depthwise patches stay below it. */
const MAX_PATCH_FLOATS = 3584;

function pair(v: number | [number, number] | undefined, dflt: number, name: string, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || p.some((d) => !Number.isInteger(d) || d < min)) {
    throw new Error(`conv2d: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

export function conv2dParams(o: Conv2dOptions = {}): Conv2dParams {
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`conv2d: groups must be a positive integer, got ${groups}`);
  return {
    stride: pair(o.stride, 1, 'stride', 1),
    padding: pair(o.padding, 0, 'padding', 0),
    dilation: pair(o.dilation, 1, 'dilation', 1),
    groups,
    algorithm: o.algorithm ?? 'auto',
    ...(o.direct ? { direct: o.direct } : {}),
    relu: o.relu ?? false,
  };
}

/** Output spatial size as PyTorch: floor((H + 2p - d (k - 1) - 1) / s) + 1. */
export function convOutSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

interface ConvShape {
  b: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  hout: number;
  wout: number;
}

function checkShapes(p: Conv2dParams, x: Tensor, wt: Tensor, bias: Tensor | null): ConvShape {
  const fmt = (t: Tensor) => `[${t.shape.join(', ')}]`;
  if (x.rank !== 4) throw new Error(`conv2d: input must be [B, C, H, W], got ${fmt(x)}`);
  if (wt.rank !== 4) throw new Error(`conv2d: weight must be [Cout, Cin/groups, kh, kw], got ${fmt(wt)}`);
  const [b, cin, h, w] = x.shape as [number, number, number, number];
  const [cout, cg, kh, kw] = wt.shape as [number, number, number, number];
  const g = p.groups;
  if (cin % g || cout % g) {
    throw new Error(`conv2d: groups=${g} must divide input channels (${cin}) and output channels (${cout})`);
  }
  if (cg !== cin / g) {
    throw new Error(`conv2d: weight ${fmt(wt)} expects ${cg * g} input channels with groups=${g}, input ${fmt(x)} has ${cin}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== cout)) {
    throw new Error(`conv2d: bias must be [${cout}], got ${fmt(bias)}`);
  }
  if (g > MAX_GROUPS) throw new Error(`conv2d: at most ${MAX_GROUPS} groups`);
  const hout = convOutSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  const wout = convOutSize(w, kw, p.stride[1], p.padding[1], p.dilation[1]);
  if (kh < 1 || kw < 1 || hout < 1 || wout < 1) {
    throw new Error(
      `conv2d: kernel ${kh}x${kw} (dilation ${p.dilation.join('x')}) does not fit input ${h}x${w} with padding ${p.padding.join('x')}`,
    );
  }
  return { b, cin, h, w, cout, kh, kw, hout, wout };
}

/** Implicit-GEMM tilings (GPU adapters): 64 x 64 blocks of 4 x 4 per thread, and a
 * 16-row block for groups of few output channels (grouped convolutions). */
const GEMM_LARGE: ImplicitGemmTiling = { tm: 64, tn: 64, tk: 16, rm: 4, rn: 4 };
const GEMM_SMALL_M: ImplicitGemmTiling = { tm: 16, tn: 64, tk: 16, rm: 4, rn: 4 };

function implicitGemmTiling(mg: number): ImplicitGemmTiling {
  return mg <= 16 ? GEMM_SMALL_M : GEMM_LARGE;
}

function implicitGemmConv(p: Conv2dParams, s: ConvShape, x: Tensor, wt: Tensor, bias: Tensor | null, y: Tensor): void {
  const g = p.groups;
  const cg = s.cin / g;
  const mg = s.cout / g;
  const kdim = cg * s.kh * s.kw;
  const n = s.b * s.hout * s.wout;
  const t = implicitGemmTiling(mg);
  const pointwise =
    s.kh === 1 && s.kw === 1 && p.stride.every((v) => v === 1) && p.padding.every((v) => v === 0);
  const spec = { ...t, kh: s.kh, kw: s.kw, pointwise };
  const mTiles = Math.ceil(mg / t.tm);
  const nTiles = Math.ceil(n / t.tn);
  if (mTiles * g > 65535) throw new Error(`conv2d: too many output channels per group (${mg}) for one dispatch`);
  const gx = Math.min(nTiles, 65535);
  runtime().dispatch({
    key: implicitGemmKey(spec),
    source: () => implicitGemmKernel(spec),
    inputs: [x.buffer, wt.buffer, (bias ?? wt).buffer],
    outputs: [y.buffer],
    uniform: new UniformWriter()
      .u32(s.cin, s.h, s.w, s.cout, s.hout, s.wout, cg, mg, kdim, n, mTiles, bias ? 1 : 0)
      .u32(p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.padding[0], p.padding[1])
      .finish(),
    workgroups: [gx, mTiles * g, Math.ceil(nTiles / gx)],
  });
}

/** Measured on ResNet-50's shapes at batch 11 (a forward's tangents). Lavapipe: a
 * uniform load costs a lane what a gather does, so sharing the weight loads over
 * subgroups of 8 and taking 32 channels x 8 outputs per thread ran 3x3 convolutions at
 * 15-20 GFLOP/s and 1x1 at 9-11, against 5-7 for 16 x 16 unshared; 1x1 (flat rows) take
 * 64 channels, 12-15 GFLOP/s, since their input loads feed only one tap (64 channels
 * gained 3x3 little and compile 2.5x longer: 22-29 s a variant, vec4 loads of inputs and
 * weights nothing). SwiftShader: 16 channels x 16 outputs, 8 channels for filters larger
 * than 3x3 (the stem), shorter rows on small maps; sharing over its subgroups of 4
 * gained 1.25-1.35x. Fewer channels than a block take the power of two below.
 *
 * Compile time grows with the register tile (SwiftShader about 10 ms per accumulator;
 * lavapipe 7-20 s for a 32 x 4 or 32 x 8 variant, 1-1.3 s for 8 x 4), so a convolution
 * with less than `COMPACT_CONV_BELOW` FLOPs per image (every layer of a small model at
 * 32 px; none of ResNet-50's at 64 px and above, whose smallest at 224 px is 103M) takes
 * a compact tile: for such layers a typical run gains less from the large tile than
 * compiling it costs. On the demo ResNet's shapes at batch 350, lavapipe's 8 x 4 ran
 * within 10 % of the large tiles; SwiftShader's 8 x 8 within 12 % where rows are longer
 * than 4 (16 x 4 on shorter rows, where 8 x 8 ran 3x slower).
 *
 * Lavapipe's large tiles (128 or more accumulators a lane; ResNet-50's take 256-512)
 * live in stack memory, so the order of the FMAs decides the memory traffic:
 * accumulator-major blocks (`kblock`) of one input channel's 3 x 3 taps, or two channels
 * of a 1x1 row, ran ResNet-50's 3x3 convolutions at batch 7 1.15-1.5x faster in CPU time
 * than tap by tap, and its 1x1 rows 1.1-1.45x (1.29x over six shapes; blocks of four
 * channels: 1.22x); 1x1 stride 2 gained nothing. They compile longer the first time (a
 * 1x1 row's 70 s against about 25 s; Mesa's shader cache keeps them). */
export const COMPACT_CONV_BELOW = 2 ** 23;

export function directConvTiling(
  profile: Pick<AdapterProfile, 'kind' | 'subgroupSize'>,
  shape: { mg: number; taps: number; wout: number; flat: boolean; flops: number },
): DirectConvTiling {
  const fit = (most: number) => Math.min(most, 2 ** Math.floor(Math.log2(Math.max(1, shape.mg))));
  const compact = shape.flops < COMPACT_CONV_BELOW;
  if (profile.kind === 'llvmpipe' && profile.subgroupSize === 8) {
    if (compact) return { rm: fit(8), rn: 4, subgroups: true };
    const tile = { rm: fit(shape.flat ? 64 : 32), rn: shape.wout > 4 ? 8 : 4, subgroups: true };
    // accumulator-major blocks where the accumulators spill, as measured
    if (tile.rm * tile.rn < 128) return tile;
    if (shape.flat) return { ...tile, kblock: 2 };
    return shape.taps > 1 && shape.taps <= 9 ? { ...tile, kblock: 1 } : tile;
  }
  const rn = shape.wout >= 16 && !compact ? 16 : shape.wout > 4 ? 8 : 4;
  // compact: at most 64 accumulators (16 channels only on rows of 4)
  const channels = shape.taps > 9 || (compact && rn > 4) ? 8 : 16;
  return { rm: fit(channels), rn, subgroups: profile.subgroupSize > 0 };
}

/** Which rows of a direct convolution are whole vec4s (pooled buffers are whole vec4s
 * too), so its kernel loads and stores them as vec4s: output rows (`vec4`; a flat row
 * is the whole map, its input row too) and, not flat, input rows (`x4`: the width
 * padding mod 4, the row spans' offset from the vec4 grid). */
export function vec4Rows(row: { flat: boolean; w: number; wout: number; padW: number }): Pick<DirectSpec, 'vec4' | 'x4'> {
  return {
    ...(row.wout % 4 === 0 ? { vec4: true } : {}),
    ...(!row.flat && row.w % 4 === 0 ? { x4: row.padW % 4 } : {}),
  };
}

/** The epilogue of a direct dispatch: a residual added, then none, ReLU, or the ReLU's
 * tangent mask (the value for the primal batch of `batch` entries). */
type Epilogue = { act: ConvAct; mask?: Tensor; batch?: number; residual?: Tensor };

function directConv(p: Conv2dParams, s: ConvShape, x: Tensor, wt: Tensor, bias: Tensor | null, y: Tensor, epi: Epilogue = { act: ConvAct.none }): void {
  const g = p.groups;
  const cg = s.cin / g;
  const mg = s.cout / g;
  // 1x1 stride 1 unpadded: the image is one long row, so segments never straddle rows
  const flat = s.kh === 1 && s.kw === 1 && p.stride.every((v) => v === 1) && p.padding.every((v) => v === 0);
  const [h, w, hout, wout] = flat ? [1, s.h * s.w, 1, s.h * s.w] : [s.h, s.w, s.hout, s.wout];
  const profile = runtime().profile;
  const flops = 2 * s.cout * s.hout * s.wout * cg * s.kh * s.kw;
  const { rm, rn, subgroups, kblock } = p.direct ?? directConvTiling(profile, { mg, taps: s.kh * s.kw, wout, flat, flops });
  // a broadcast stays inside one workgroup, whose lanes share the channel block
  const size = profile.subgroupSize;
  const sg = subgroups && size > 0 && rm % size === 0 ? size : 0;
  if (kblock !== undefined && !(Number.isInteger(kblock) && kblock >= 1)) throw new Error(`conv2d: kblock must be a positive integer, got ${kblock}`);
  const spec: DirectSpec = {
    ...{ kh: s.kh, kw: s.kw, sw: flat ? 1 : p.stride[1], dw: p.dilation[1], rm, rn, flat, sg },
    ...(kblock ? { kblock } : {}),
    ...(epi.residual ? { res: true } : {}),
    ...vec4Rows({ flat, w, wout, padW: p.padding[1] }),
  };
  const segs = Math.ceil(wout / rn);
  const threads = s.b * hout * segs;
  const mTiles = Math.ceil(mg / rm);
  if (mTiles * g > 65535) throw new Error(`conv2d: too many output channels per group (${mg}) for one dispatch`);
  const groupsX = Math.ceil(threads / DIRECT_WG);
  const gx = Math.min(groupsX, 65535);
  runtime().dispatch({
    key: directKey(spec),
    source: () => directKernel(spec),
    inputs: [x.buffer, wt.buffer, (bias ?? wt).buffer, (epi.mask ?? wt).buffer, ...(epi.residual ? [epi.residual.buffer] : [])],
    outputs: [y.buffer],
    uniform: new UniformWriter()
      .u32(s.cin, h, w, s.cout, hout, wout, cg, mg, cg * s.kh * s.kw, segs, threads, mTiles)
      .u32(p.stride[0], p.dilation[0], p.padding[0], p.padding[1])
      .u32(bias ? 1 : 0, epi.act, epi.batch ?? 1)
      .finish(),
    workgroups: [gx, mTiles * g, Math.ceil(groupsX / gx)],
  });
}

/** Thread layout of the depthwise kernel: wide rows for wide maps, tall tiles for the
 * small late-stage maps so fewer threads idle. */
function depthwiseSpec(p: Conv2dParams, s: ConvShape): DepthwiseSpec {
  const base = { kh: s.kh, kw: s.kw, sh: p.stride[0], sw: p.stride[1], dh: p.dilation[0], dw: p.dilation[1] };
  if (s.wout >= 24) return { ...base, tr: 8, tc: 8, rw: 4 };
  if (s.wout >= 12) return { ...base, tr: 16, tc: 4, rw: 4 };
  return { ...base, tr: 16, tc: 4, rw: 2 };
}

/** The direct kernel serves groups == Cin == Cout when its input patch fits in shared
 * memory; anything else goes to the implicit GEMM. */
function depthwiseConv(p: Conv2dParams, s: ConvShape, x: Tensor, wt: Tensor, bias: Tensor | null, y: Tensor): boolean {
  if (!(p.groups === s.cin && s.cout === s.cin)) return false;
  const spec = depthwiseSpec(p, s);
  const [ih, iw] = depthwisePatch(spec);
  if (ih * iw + s.kh * s.kw > MAX_PATCH_FLOATS) return false;
  const tilesW = Math.ceil(s.wout / (spec.tc * spec.rw));
  const tiles = tilesW * Math.ceil(s.hout / spec.tr);
  if (tiles > 65535) return false;
  const planes = s.b * s.cin;
  const gy = Math.min(planes, 65535);
  runtime().dispatch({
    key: depthwiseKey(spec),
    source: () => depthwiseKernel(spec),
    inputs: [x.buffer, wt.buffer, (bias ?? wt).buffer],
    outputs: [y.buffer],
    uniform: new UniformWriter()
      .u32(s.cin, s.h, s.w, s.hout, s.wout, p.padding[0], p.padding[1], tilesW, planes, bias ? 1 : 0)
      .finish(),
    workgroups: [tiles, gy, Math.ceil(planes / gy)],
  });
  return true;
}

/** CPU adapters (SwiftShader, lavapipe) run the barrier-free direct kernel for every
 * shape: there shared memory is plain memory, each barrier switches coroutines, and the
 * staged kernels measured 3-10x slower (depthwise included). */
function preferDirect(): boolean {
  return runtime().profile.software;
}

function isPointwise(p: Conv2dParams, s: ConvShape): boolean {
  return s.kh === 1 && s.kw === 1 && p.groups === 1 && p.stride.every((v) => v === 1) && p.padding.every((v) => v === 0);
}

/** 1x1 convolution as the batched product W [1, Cout, Cin] @ x [B, Cin, H*W]; the bias
 * (per row, which the matmul epilogue does not take) is one broadcast add. */
function matmulConv(s: ConvShape, x: Tensor, wt: Tensor, bias: Tensor | null): Tensor {
  const w2 = wt.reshape([1, s.cout, s.cin]);
  const x2 = x.reshape([s.b, s.cin, s.h * s.w]);
  const prod = matmulTensor(w2, x2);
  w2.dispose();
  x2.dispose();
  let y = prod.reshape([s.b, s.cout, s.hout, s.wout]);
  prod.dispose();
  if (bias) {
    const b4 = bias.reshape([1, s.cout, 1, 1]);
    const sum = add(y, b4).primal;
    b4.dispose();
    y.dispose();
    y = sum;
  }
  return y;
}

/** Whether conv2dImpl runs this shape as a batched matmul. */
function runsMatmul(p: Conv2dParams, s: ConvShape): boolean {
  return s.b > 0 && isPointwise(p, s) && (p.algorithm === 'matmul' || (p.algorithm === 'auto' && !preferDirect()));
}

/** Whether conv2dImpl runs the direct kernel for this shape (it then takes an epilogue). */
function runsDirect(p: Conv2dParams, s: ConvShape): boolean {
  return !runsMatmul(p, s) && (p.algorithm === 'direct' || (p.algorithm === 'auto' && preferDirect()));
}

/** The convolution without its ReLU (p.relu is the caller's), or with `epi` where it
 * runs direct. */
function conv2dImpl(p: Conv2dParams, x: Tensor, wt: Tensor, bias: Tensor | null, epi?: Epilogue): Tensor {
  const s = checkShapes(p, x, wt, bias);
  if (p.algorithm === 'matmul' && !isPointwise(p, s)) {
    throw new Error('conv2d: the matmul path needs a 1x1, stride-1, unpadded, ungrouped convolution');
  }
  if (runsMatmul(p, s)) return matmulConv(s, x, wt, bias);
  const y = Tensor.empty([s.b, s.cout, s.hout, s.wout]);
  if (y.size === 0) return y;
  if (p.algorithm === 'implicit-gemm') implicitGemmConv(p, s, x, wt, bias, y);
  else if (p.algorithm === 'depthwise') {
    if (!depthwiseConv(p, s, x, wt, bias, y)) {
      throw new Error(`conv2d: the depthwise kernel needs groups == Cin == Cout and a filter patch that fits shared memory`);
    }
  } else if (runsDirect(p, s)) directConv(p, s, x, wt, bias, y, epi);
  else if (!depthwiseConv(p, s, x, wt, bias, y)) implicitGemmConv(p, s, x, wt, bias, y);
  return y;
}

const linearConv = linearInBatch<Conv2dParams>('conv2d', (p, [x, wt, bias]) => conv2dImpl(p, x!, wt!, bias ?? null), [2]);

/** The composed form of an epilogue (a residual, a ReLU or both), for paths without the
 * direct kernel's: z (the convolution, a Dual, disposed here) plus the residual,
 * through the ReLU. */
function composed(relued: boolean, z: Dual, residual: Dual | null): Dual {
  const y = residual ? (relued ? addRelu(z, residual) : add(z, residual)) : relu(z);
  z.primal.dispose();
  z.tangents?.dispose();
  return y;
}

export const convPrims: PrimitiveTable<ConvParams> = {
  conv2d: {
    impl(p, primals) {
      const [x, wt, bias, residual] = primals;
      const conv = primals.slice(0, 3);
      if (!p.relu && !residual) return linearConv.impl(p, conv);
      if (runsDirect(p, checkShapes(p, x!, wt!, bias ?? null))) {
        return conv2dImpl(p, x!, wt!, bias ?? null, { act: p.relu ? ConvAct.relu : ConvAct.none, residual: residual ?? undefined });
      }
      return composed(p.relu, dual(linearConv.impl(p, conv)), residual ? dual(residual) : null).primal;
    },
    // d conv(x; W, b) = conv(dx; W): linear in x, weights constant; tangents run as a
    // batch of K*B through the same kernel without bias. A residual r adds its tangent:
    // d (z + r) = dz + dr. With the ReLU, d relu(z) = [z > 0] dz, and z > 0 exactly
    // where relu(z) > 0: the direct kernel masks the tangents by the value it made;
    // elsewhere the add's and the ReLU's own rules run after the convolution
    jvp(p, primals, tangents) {
      const [x, wt, bias, residual] = primals;
      const [tx, , , tr] = tangents;
      const conv = primals.slice(0, 3);
      requireConstant(tangents.slice(0, 3), 'conv2d');
      if (!p.relu && !residual) return linearConv.jvp(p, conv, tangents.slice(0, 3));
      const b = x!.shape[0]!;
      const k = tx?.shape[0];
      // one dispatch for the value and one for all tangents when every tangent is there
      const oneEach = tx && (!residual || tr?.shape[0] === k) && runsDirect(p, checkShapes(p, x!, wt!, bias ?? null));
      if (!oneEach) {
        const z = tx ? linearConv.jvp(p, conv, [tx, null, null]) : dual(linearConv.impl(p, conv));
        return composed(p.relu, z, residual ? dual(residual, tr ?? null) : null);
      }
      const y = conv2dImpl(p, x!, wt!, bias ?? null, { act: p.relu ? ConvAct.relu : ConvAct.none, residual: residual ?? undefined });
      const fold = (t: Tensor) => t.reshape([k! * b, ...t.shape.slice(2)]);
      const folded = fold(tx);
      const foldedR = residual ? fold(tr!) : undefined;
      const out = conv2dImpl(p, folded, wt!, null, {
        act: p.relu ? ConvAct.reluMask : ConvAct.none,
        ...(p.relu ? { mask: y, batch: b } : {}),
        residual: foldedR,
      });
      folded.dispose();
      foldedR?.dispose();
      const ty = out.reshape([k!, ...y.shape]);
      out.dispose();
      return { primal: y, tangents: ty };
    },
  },
};

/** 2-D convolution (cross-correlation, as PyTorch): x [B, Cin, H, W], weight
 * [Cout, Cin/groups, kh, kw], bias [Cout] or null. Output [B, Cout, Hout, Wout]. */
export function conv2d(x: Operand, weight: Operand, bias: Operand | null = null, options: Conv2dOptions = {}): Dual {
  const p = conv2dParams(options);
  const { residual } = options;
  if (residual === undefined) return bind('conv2d', p, [x, weight, bias]);
  const s = checkShapes(p, primalOf(x), primalOf(weight), bias === null ? null : primalOf(bias));
  const want = [s.b, s.cout, s.hout, s.wout];
  const got = primalOf(residual).shape;
  if (got.length !== 4 || got.some((d, i) => d !== want[i])) {
    throw new Error(`conv2d: residual must be the output's shape [${want.join(', ')}], got [${got.join(', ')}]`);
  }
  return bind('conv2d', p, [x, weight, bias, residual]);
}
