import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { Conv2d, Identity, Linear, ReLU6, SelectAdaptivePool2d, SiLU, Sigmoid } from './layers.js';
import { BatchNormAct2d } from './norm-act.js';
import { squeeze } from './squeeze-excite.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec, type Preprocess } from './spec.js';

// EfficientNet B0-B4 (Tan & Le 2019) and MobileNetV2 (Sandler et al. 2018) as timm 0.9.16's
// `EfficientNet` (timm/models/efficientnet.py, _efficientnet_blocks.py, _efficientnet_builder.py):
// conv_stem (3x3 s2) -> bn1 -> seven stages of blocks -> conv_head (1x1) -> bn2 -> global
// pool -> classifier. Stage 0 is a DepthwiseSeparableConv, the others InvertedResidual
// blocks (1x1 expansion, depthwise kxk at the stage's stride on the first block, optional
// squeeze-excitation, linear 1x1 projection), with a residual where shape allows. Every
// norm is a BatchNormAct2d (eps 1e-5; the projection's without activation). Widths and
// depths are timm's arch strings scaled by the channel and depth multipliers.

type Act = () => Module;

/** timm's padding for its static convs: ((stride - 1) + (k - 1)) // 2. */
const padding = (k: number, stride: number) => Math.floor((stride - 1 + k - 1) / 2);

/** The EfficientNet blocks' SqueezeExcite: squeeze -> conv_reduce -> the block's act ->
 * conv_expand -> sigmoid gate, times the input. */
export class SqueezeExcite extends Module {
  readonly type = 'SqueezeExcite';
  readonly conv_reduce: Conv2d;
  readonly act1: Module;
  readonly conv_expand: Conv2d;
  readonly gate = new Sigmoid();
  constructor(channels: number, reduced: number, act: Act) {
    super();
    this.conv_reduce = new Conv2d(channels, reduced, 1, { bias: true });
    this.act1 = act();
    this.conv_expand = new Conv2d(reduced, channels, 1, { bias: true });
  }
  forward(x: Dual): Dual {
    const s = this.conv_expand.forward(this.act1.forward(this.conv_reduce.forward(squeeze(this, x))));
    return ops.mul(x, this.gate.forward(s));
  }
}

/** One block's sizes: for DepthwiseSeparableConv `mid` is the input width. */
export interface BlockConfig {
  inChannels: number;
  mid: number;
  out: number;
  kernel: number;
  stride: number;
  /** squeeze-excitation width, or 0 for none */
  se: number;
}

/** timm adds the shortcut (through `drop_path`) when the block keeps shape; the
 * drop_path module exists either way. */
const hasSkip = (b: BlockConfig) => b.stride === 1 && b.inChannels === b.out;

/** conv_dw (depthwise kxk at the stride) -> bn1 -> se -> conv_pw (1x1) -> bn2 (no act). */
export class DepthwiseSeparableConv extends Module {
  readonly type = 'DepthwiseSeparableConv';
  readonly conv_dw: Conv2d;
  readonly bn1: BatchNormAct2d;
  readonly se: Module;
  readonly conv_pw: Conv2d;
  readonly bn2: BatchNormAct2d;
  readonly drop_path = new Identity();
  constructor(
    readonly block: BlockConfig,
    act: Act,
  ) {
    super();
    const { inChannels: c, kernel: k, stride } = block;
    this.conv_dw = new Conv2d(c, c, k, { stride, padding: padding(k, stride), groups: c });
    this.bn1 = new BatchNormAct2d(c, 1e-5, act());
    this.se = block.se ? new SqueezeExcite(c, block.se, act) : new Identity();
    this.conv_pw = new Conv2d(c, block.out, 1);
    this.bn2 = new BatchNormAct2d(block.out, 1e-5, new Identity());
  }
  forward(x: Dual): Dual {
    const y = this.bn2.forward(this.conv_pw.forward(this.se.forward(this.bn1.forward(this.conv_dw.forward(x)))));
    return hasSkip(this.block) ? ops.add(this.drop_path.forward(y), x) : y;
  }
}

/** conv_pw (1x1 expansion) -> bn1 -> conv_dw (depthwise kxk at the stride) -> bn2 -> se ->
 * conv_pwl (linear 1x1 projection) -> bn3 (no act). */
export class InvertedResidual extends Module {
  readonly type = 'InvertedResidual';
  readonly conv_pw: Conv2d;
  readonly bn1: BatchNormAct2d;
  readonly conv_dw: Conv2d;
  readonly bn2: BatchNormAct2d;
  readonly se: Module;
  readonly conv_pwl: Conv2d;
  readonly bn3: BatchNormAct2d;
  readonly drop_path = new Identity();
  constructor(
    readonly block: BlockConfig,
    act: Act,
  ) {
    super();
    const { mid, kernel: k, stride } = block;
    this.conv_pw = new Conv2d(block.inChannels, mid, 1);
    this.bn1 = new BatchNormAct2d(mid, 1e-5, act());
    this.conv_dw = new Conv2d(mid, mid, k, { stride, padding: padding(k, stride), groups: mid });
    this.bn2 = new BatchNormAct2d(mid, 1e-5, act());
    this.se = block.se ? new SqueezeExcite(mid, block.se, act) : new Identity();
    this.conv_pwl = new Conv2d(mid, block.out, 1);
    this.bn3 = new BatchNormAct2d(block.out, 1e-5, new Identity());
  }
  forward(x: Dual): Dual {
    let y = this.bn2.forward(this.conv_dw.forward(this.bn1.forward(this.conv_pw.forward(x))));
    y = this.bn3.forward(this.conv_pwl.forward(this.se.forward(y)));
    return hasSkip(this.block) ? ops.add(this.drop_path.forward(y), x) : y;
  }
}

export type Activation = 'silu' | 'relu6';

export interface EfficientNetConfig {
  act: Activation;
  inChans: number;
  stem: number;
  /** stages of blocks; stage 0 holds DepthwiseSeparableConv blocks, the rest InvertedResidual */
  stages: BlockConfig[][];
  numFeatures: number;
  numClasses: number;
}

const ACTS: Record<Activation, Act> = { silu: () => new SiLU(), relu6: () => new ReLU6() };

export class EfficientNet extends Module {
  readonly type = 'EfficientNet';
  readonly conv_stem: Conv2d;
  readonly bn1: BatchNormAct2d;
  readonly blocks: Sequential;
  readonly conv_head: Conv2d;
  readonly bn2: BatchNormAct2d;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly classifier: Module;
  constructor(readonly config: EfficientNetConfig) {
    super();
    const act = ACTS[config.act];
    this.conv_stem = new Conv2d(config.inChans, config.stem, 3, { stride: 2, padding: 1 });
    this.bn1 = new BatchNormAct2d(config.stem, 1e-5, act());
    this.blocks = new Sequential(
      config.stages.map((stage, i) => new Sequential(stage.map((b) => (i === 0 ? new DepthwiseSeparableConv(b, act) : new InvertedResidual(b, act))))),
    );
    const last = config.stages.flat().at(-1)?.out ?? config.stem;
    this.conv_head = new Conv2d(last, config.numFeatures, 1);
    this.bn2 = new BatchNormAct2d(config.numFeatures, 1e-5, act());
    this.classifier = config.numClasses > 0 ? new Linear(config.numFeatures, config.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    const h = this.blocks.forward(this.bn1.forward(this.conv_stem.forward(x)));
    // forward_head's dropout is functional and off in eval
    return this.classifier.forward(this.global_pool.forward(this.bn2.forward(this.conv_head.forward(h))));
  }
}

// ---------------------------------------------------------------- timm's scaling rules

/** timm's make_divisible: to a multiple of `divisor` (at least it), never below 90 % of v. */
function makeDivisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}

/** An arch string's stage: `ds`/`ir`, repeats, kernel, stride, expansion, output width,
 * squeeze-excitation ratio (of the block input). */
interface StageDef {
  repeats: number;
  kernel: number;
  stride: number;
  expand: number;
  out: number;
  se: number;
}

/** Python's round(): halves to even. */
const roundHalfEven = (v: number) => {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
};

interface Variant {
  name: string;
  arch: StageDef[];
  act: Activation;
  width: number;
  depth: number;
  /** mobilenetv2 `d` variants: stem and head widths and the first and last stage depths unscaled */
  fixStemHead?: boolean;
  head: (roundChs: (c: number) => number) => number;
  preprocess: Preprocess;
}

/** The blocks timm's EfficientNetBuilder makes from a variant's arch strings. */
function defaultConfig(v: Variant): EfficientNetConfig {
  const roundChs = (c: number) => (v.width ? makeDivisible(c * v.width) : c);
  const stem = v.fixStemHead ? 32 : roundChs(32);
  let ch = stem;
  const stages = v.arch.map((s, i) => {
    const fixed = v.fixStemHead && (i === 0 || i === v.arch.length - 1);
    const repeats = Math.ceil(s.repeats * (fixed ? 1 : v.depth));
    return Array.from({ length: repeats }, (_, j): BlockConfig => {
      const inChannels = ch;
      const out = roundChs(s.out);
      const mid = i === 0 ? inChannels : makeDivisible(inChannels * s.expand);
      // SqueezeExcite(mid, rd_ratio = se / expand): round(mid * se / expand) channels
      const se = s.se ? roundHalfEven((mid * s.se) / (i === 0 ? 1 : s.expand)) : 0;
      ch = out;
      return { inChannels, mid, out, kernel: s.kernel, stride: j === 0 ? s.stride : 1, se };
    });
  });
  return { act: v.act, inChans: 3, stem, stages, numFeatures: v.head(roundChs), numClasses: 1000 };
}

/** Widths, kernels and depths the weights show; block kinds, strides, SE presence and the
 * activation are the architecture's. */
function configFromWeights(d: EfficientNetConfig, w: Map<string, HostTensor>): EfficientNetConfig {
  const dim = (key: string, axis: number) => shapeOf(w, key)?.[axis];
  const stem = dim('conv_stem.weight', 0) ?? d.stem;
  let ch = stem;
  const stages = d.stages.map((ds, i) => {
    const n = countIndexed(w, `blocks.${i}.`, '.conv_dw.weight') || ds.length;
    return Array.from({ length: n }, (_, j): BlockConfig => {
      const p = `blocks.${i}.${j}.`;
      const ref = ds[Math.min(j, ds.length - 1)]!;
      const inChannels = ch;
      const mid = i === 0 ? inChannels : (dim(`${p}conv_pw.weight`, 0) ?? ref.mid);
      const out = dim(`${p}${i === 0 ? 'conv_pw' : 'conv_pwl'}.weight`, 0) ?? ref.out;
      const se = ref.se ? (dim(`${p}se.conv_reduce.weight`, 0) ?? ref.se) : 0;
      ch = out;
      return { inChannels, mid, out, kernel: dim(`${p}conv_dw.weight`, 2) ?? ref.kernel, stride: j === 0 ? ds[0]!.stride : 1, se };
    });
  });
  const fc = shapeOf(w, 'classifier.weight');
  return {
    ...d,
    inChans: dim('conv_stem.weight', 1) ?? d.inChans,
    stem,
    stages,
    numFeatures: dim('conv_head.weight', 0) ?? d.numFeatures,
    numClasses: fc ? fc[0]! : w.has('conv_head.weight') ? 0 : d.numClasses,
  };
}

const stage = (repeats: number, kernel: number, stride: number, expand: number, out: number, se = 0): StageDef => ({ repeats, kernel, stride, expand, out, se });

/** _gen_efficientnet's arch_def: ds_r1_k3_s1_e1_c16_se0.25, ir_r2_k3_s2_e6_c24_se0.25, ... */
const EFFICIENTNET = [
  stage(1, 3, 1, 1, 16, 0.25),
  stage(2, 3, 2, 6, 24, 0.25),
  stage(2, 5, 2, 6, 40, 0.25),
  stage(3, 3, 2, 6, 80, 0.25),
  stage(3, 5, 1, 6, 112, 0.25),
  stage(4, 5, 2, 6, 192, 0.25),
  stage(1, 3, 1, 6, 320, 0.25),
];
/** _gen_mobilenet_v2's arch_def: ds_r1_k3_s1_c16, ir_r2_k3_s2_e6_c24, ... (no SE) */
const MOBILENETV2 = [
  stage(1, 3, 1, 1, 16),
  stage(2, 3, 2, 6, 24),
  stage(3, 3, 2, 6, 32),
  stage(4, 3, 2, 6, 64),
  stage(3, 3, 1, 6, 96),
  stage(3, 3, 2, 6, 160),
  stage(1, 3, 1, 6, 320),
];

/** timm's default tags: efficientnet_b0..b4 ra_in1k / ft_in1k / ra_in1k / ra2_in1k / ra2_in1k,
 * mobilenetv2_* ra_in1k; all bicubic */
const at = (size: number, cropPct: number): Preprocess => ({ ...preprocess(cropPct, IMAGENET, 'bicubic'), inputSize: [3, size, size] });

const effnet = (name: string, width: number, depth: number, pre: Preprocess): Variant => ({
  name,
  arch: EFFICIENTNET,
  act: 'silu',
  width,
  depth,
  head: (roundChs) => roundChs(1280),
  preprocess: pre,
});
const mobilenetv2 = (name: string, width: number, depth: number, fixStemHead: boolean): Variant => ({
  name,
  arch: MOBILENETV2,
  act: 'relu6',
  width,
  depth,
  fixStemHead,
  head: (roundChs) => (fixStemHead ? 1280 : Math.max(1280, roundChs(1280))),
  preprocess: at(224, 0.875),
});

const VARIANTS: Variant[] = [
  effnet('efficientnet_b0', 1.0, 1.0, at(224, 0.875)),
  effnet('efficientnet_b1', 1.0, 1.1, at(224, 1.0)),
  effnet('efficientnet_b2', 1.1, 1.2, at(256, 1.0)),
  effnet('efficientnet_b3', 1.2, 1.4, at(288, 1.0)),
  effnet('efficientnet_b4', 1.4, 1.8, at(320, 1.0)),
  mobilenetv2('mobilenetv2_100', 1.0, 1.0, false),
  mobilenetv2('mobilenetv2_110d', 1.1, 1.2, true),
  mobilenetv2('mobilenetv2_120d', 1.2, 1.4, true),
  mobilenetv2('mobilenetv2_140', 1.4, 1.0, false),
];

export const efficientnetSpecs: ModelSpec[] = VARIANTS.map((v) => ({
  name: v.name,
  family: 'efficientnet',
  preprocess: v.preprocess,
  build: (weights) => {
    const d = defaultConfig(v);
    return new EfficientNet(weights ? configFromWeights(d, weights) : d);
  },
}));
