import type { Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { AvgPool2d, BatchNorm2d, BlurPool2d, Conv2d, convBnAct, convBnAddAct, Identity, Linear, MaxPool2d, ReLU, SelectAdaptivePool2d } from './layers.js';
import { SEModule } from './squeeze-excite.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec, type Preprocess } from './spec.js';

/** timm 0.9.16's ResNet (timm/models/resnet.py) in eval mode: torchvision's layout with
 * the "v1.5" stride on the 3x3 conv, and optional BlurPool anti-aliasing (`aa`). The
 * ResNet-D stem (three 3x3 convs) and average-pool shortcut ("Bag of Tricks", He et al.
 * 2019), and ResNet-RS's (Bello et al. 2021) 3x3 conv in place of the stem max pool and
 * squeeze-excitation in every block, are timm's options of the same class. */

/** What a block takes besides its widths: blur (`aa`), the average-pool shortcut, and the
 * squeeze-excitation width (0: no `se`). */
export interface BlockOptions {
  blur: boolean;
  avgDown: boolean;
  se: number;
}

/** The strided 3x3 conv's anti-aliasing: with blur, the conv runs at stride 1 and a
 * BlurPool2d does the stride-2 step after the ReLU; otherwise `aa` is an Identity. */
function antiAlias(blur: boolean, channels: number, stride: number): { convStride: number; aa: Module } {
  const useAa = blur && stride === 2;
  return { convStride: useAa ? 1 : stride, aa: useAa ? new BlurPool2d(channels, 3, 2) : new Identity() };
}

/** `downsample`: 1x1 conv at the block's stride (never blurred) + BN, when the shortcut
 * changes resolution or width; otherwise the shortcut is the identity (no module). With
 * avg_down (ResNet-D) the stride is a 2x2 average pool (ceil mode, padding not counted;
 * an Identity at stride 1) before a stride-1 conv. */
function downsample(inCh: number, outCh: number, stride: number, avgDown: boolean): Sequential | undefined {
  if (stride === 1 && inCh === outCh) return undefined;
  if (!avgDown) return new Sequential([new Conv2d(inCh, outCh, 1, { stride }), new BatchNorm2d(outCh)]);
  const pool = stride === 1 ? new Identity() : new AvgPool2d(2, stride, 0, { ceilMode: true, countIncludePad: false });
  return new Sequential([pool, new Conv2d(inCh, outCh, 1), new BatchNorm2d(outCh)]);
}

/** resnet18/34: two 3x3 convs, stride (or blur) on the first. */
export class BasicBlock extends Module {
  readonly type = 'BasicBlock';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly drop_block = new Identity();
  readonly act1 = new ReLU();
  readonly aa: Module;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly se?: SEModule;
  readonly act2 = new ReLU();
  readonly downsample?: Sequential;

  constructor(inCh: number, width: number, outCh: number, stride: number, o: BlockOptions) {
    super();
    const { convStride, aa } = antiAlias(o.blur, width, stride);
    this.conv1 = new Conv2d(inCh, width, 3, { stride: convStride, padding: 1 });
    this.bn1 = new BatchNorm2d(width);
    this.conv1.foldInto(this.bn1);
    this.aa = aa;
    this.conv2 = new Conv2d(width, outCh, 3, { padding: 1 });
    this.bn2 = new BatchNorm2d(outCh);
    this.conv2.foldInto(this.bn2);
    if (o.se) this.se = new SEModule(outCh, o.se);
    this.downsample = downsample(inCh, outCh, stride, o.avgDown);
  }

  forward(x: Dual): Dual {
    const y = this.aa.forward(convBnAct(this.conv1, this.bn1, this.act1, x, this.drop_block));
    const shortcut = () => (this.downsample ? this.downsample.forward(x) : x);
    return convBnAddAct(this.conv2, this.bn2, this.act2, y, shortcut, this.se);
  }
}

/** resnet50+: 1x1 reduce to `width`, 3x3 at the stride (or blur), 1x1 expand to `outCh`
 * (4 planes; wide_resnet50_2 doubles `width` only). */
export class Bottleneck extends Module {
  readonly type = 'Bottleneck';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly act1 = new ReLU();
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly drop_block = new Identity();
  readonly act2 = new ReLU();
  readonly aa: Module;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly se?: SEModule;
  readonly act3 = new ReLU();
  readonly downsample?: Sequential;

  constructor(inCh: number, width: number, outCh: number, stride: number, o: BlockOptions) {
    super();
    const { convStride, aa } = antiAlias(o.blur, width, stride);
    this.conv1 = new Conv2d(inCh, width, 1);
    this.bn1 = new BatchNorm2d(width);
    this.conv1.foldInto(this.bn1);
    this.conv2 = new Conv2d(width, width, 3, { stride: convStride, padding: 1 });
    this.bn2 = new BatchNorm2d(width);
    this.conv2.foldInto(this.bn2);
    this.aa = aa;
    this.conv3 = new Conv2d(width, outCh, 1);
    this.bn3 = new BatchNorm2d(outCh);
    this.conv3.foldInto(this.bn3);
    if (o.se) this.se = new SEModule(outCh, o.se);
    this.downsample = downsample(inCh, outCh, stride, o.avgDown);
  }

  forward(x: Dual): Dual {
    let y = convBnAct(this.conv1, this.bn1, this.act1, x);
    y = convBnAct(this.conv2, this.bn2, this.act2, y, this.drop_block);
    y = this.aa.forward(y);
    // timm runs the downsample branch after bn3, before the final ReLU (leaf order)
    const shortcut = () => (this.downsample ? this.downsample.forward(x) : x);
    return convBnAddAct(this.conv3, this.bn3, this.act3, y, shortcut, this.se);
  }
}

export type BlockKind = 'basic' | 'bottleneck';

/** One stage: `depth` blocks, inner `width`, output channels `out`, squeeze-excitation
 * width `se` (0: none). */
export interface StageConfig {
  depth: number;
  width: number;
  out: number;
  se: number;
}

export interface ResNetConfig {
  block: BlockKind;
  blur: boolean;
  /** stem_type 'deep': conv1 is three 3x3 convs, the first two this wide; null: one 7x7 */
  deepStem: [number, number] | null;
  /** replace_stem_pool (ResNet-RS): `maxpool` is a 3x3 stride-2 conv + BN + ReLU */
  convStemPool: boolean;
  /** avg_down (ResNet-D): average-pool shortcuts */
  avgDown: boolean;
  inChans: number;
  /** the stem's output width (inplanes) */
  stemWidth: number;
  stages: [StageConfig, StageConfig, StageConfig, StageConfig];
  numClasses: number;
}

/** timm's stem: `conv1` (one 7x7 s2 conv, or the deep Sequential conv-bn-relu-conv-bn-relu-conv)
 * and `maxpool` (3x3 s2 max pool; blurred; or ResNet-RS's conv-bn-relu). */
function stem(c: ResNetConfig): { conv1: Module; maxpool: Module } {
  const w = c.stemWidth;
  const d = c.deepStem;
  const conv1 = d
    ? new Sequential([
        new Conv2d(c.inChans, d[0], 3, { stride: 2, padding: 1 }),
        new BatchNorm2d(d[0]),
        new ReLU(),
        new Conv2d(d[0], d[1], 3, { padding: 1 }),
        new BatchNorm2d(d[1]),
        new ReLU(),
        new Conv2d(d[1], w, 3, { padding: 1 }),
      ])
    : new Conv2d(c.inChans, w, 7, { stride: 2, padding: 3 });
  const maxpool = c.convStemPool
    ? new Sequential([new Conv2d(w, w, 3, { stride: 2, padding: 1 }), new BatchNorm2d(w), new ReLU()])
    : c.blur
      ? new Sequential([new MaxPool2d(3, 1, 1), new BlurPool2d(w, 3, 2)])
      : new MaxPool2d(3, 2, 1);
  return { conv1, maxpool };
}

const STAGE_STRIDES = [1, 2, 2, 2];

export class ResNet extends Module {
  readonly type = 'ResNet';
  readonly conv1: Module;
  readonly bn1: BatchNorm2d;
  readonly act1 = new ReLU();
  /** 3x3 s2 max pool; with blur, `maxpool.0` max pool at stride 1 then `maxpool.1` blur s2;
   * ResNet-RS: conv, BN, ReLU */
  readonly maxpool: Module;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly fc: Linear;

  constructor(readonly config: ResNetConfig) {
    super();
    const { block, blur, avgDown, stemWidth, stages } = config;
    ({ conv1: this.conv1, maxpool: this.maxpool } = stem(config));
    this.bn1 = new BatchNorm2d(stemWidth);
    if (this.conv1 instanceof Conv2d) this.conv1.foldInto(this.bn1);
    const Block = block === 'basic' ? BasicBlock : Bottleneck;
    let inCh = stemWidth;
    const layers = stages.map((s, i) => {
      const blocks: Module[] = [];
      for (let j = 0; j < s.depth; j++) {
        blocks.push(new Block(inCh, s.width, s.out, j === 0 ? STAGE_STRIDES[i]! : 1, { blur, avgDown, se: s.se }));
        inCh = s.out;
      }
      return new Sequential(blocks);
    });
    [this.layer1, this.layer2, this.layer3, this.layer4] = layers as [Sequential, Sequential, Sequential, Sequential];
    this.fc = new Linear(inCh, config.numClasses);
  }

  forward(x: Dual): Dual {
    const stem = this.conv1 instanceof Conv2d ? convBnAct(this.conv1, this.bn1, this.act1, x) : this.act1.forward(this.bn1.forward(this.conv1.forward(x)));
    x = this.maxpool.forward(stem);
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) x = layer.forward(x);
    return this.fc.forward(this.global_pool.forward(x));
  }
}

/** A named architecture's default: stage depths, block, blur, bottleneck base width, the
 * ResNet-D / RS options (deep stem `stem_width` 32, avg_down, replace_stem_pool, SE
 * rd_ratio), and its default tag's preprocessing. */
interface Variant {
  name: string;
  block: BlockKind;
  depths: [number, number, number, number];
  blur?: boolean;
  baseWidth?: number;
  deepStem?: boolean;
  avgDown?: boolean;
  convStemPool?: boolean;
  seRatio?: number;
  preprocess: Preprocess;
}

const PLANES = [64, 128, 256, 512];

/** timm's make_divisible(v, 8, round_limit=0.), SEModule's reduced width. */
const divisible8 = (v: number) => Math.max(8, Math.floor((v + 4) / 8) * 8);

function defaultConfig(v: Variant): ResNetConfig {
  const expansion = v.block === 'basic' ? 1 : 4;
  const baseWidth = v.baseWidth ?? 64;
  const stages = v.depths.map((depth, i) => {
    const planes = PLANES[i]!;
    // BasicBlock is always planes wide; Bottleneck's width is floor(planes * base_width / 64)
    const width = v.block === 'basic' ? planes : Math.floor((planes * baseWidth) / 64);
    const out = planes * expansion;
    return { depth, width, out, se: v.seRatio ? divisible8(out * v.seRatio) : 0 };
  });
  return {
    block: v.block,
    blur: !!v.blur,
    // stem_width 32: (32, 32) then inplanes = 2 * 32
    deepStem: v.deepStem ? [32, 32] : null,
    convStemPool: !!v.convStemPool,
    avgDown: !!v.avgDown,
    inChans: 3,
    stemWidth: 64,
    stages: stages as ResNetConfig['stages'],
    numClasses: 1000,
  };
}

/** Dimension `axis` of a weight, if the key is there with a positive size. */
function dim(weights: Map<string, HostTensor>, key: string, axis: number): number | undefined {
  const d = shapeOf(weights, key)?.[axis];
  return d !== undefined && Number.isInteger(d) && d > 0 ? d : undefined;
}

/** Sizes the weights show; the block kind, blur, stem, shortcut kind and SE presence are
 * the architecture's (blur has no weights, and another block kind's weights must be
 * rejected, not adopted). Where a size is not visible the default stays, so the loader
 * lists what is missing. */
function configFromWeights(v: Variant, weights: Map<string, HostTensor>): ResNetConfig {
  const c = defaultConfig(v);
  const last = v.block === 'basic' ? 'conv2' : 'conv3';
  const stages = c.stages.map((s, i) => {
    const prefix = `layer${i + 1}.`;
    return {
      depth: countIndexed(weights, prefix, '.conv1.weight') || s.depth,
      width: dim(weights, `${prefix}0.conv1.weight`, 0) ?? s.width,
      out: dim(weights, `${prefix}0.${last}.weight`, 0) ?? s.out,
      se: s.se ? (dim(weights, `${prefix}0.se.fc1.weight`, 0) ?? s.se) : 0,
    };
  });
  const d = c.deepStem;
  return {
    ...c,
    deepStem: d ? [dim(weights, 'conv1.0.weight', 0) ?? d[0], dim(weights, 'conv1.3.weight', 0) ?? d[1]] : null,
    inChans: dim(weights, d ? 'conv1.0.weight' : 'conv1.weight', 1) ?? c.inChans,
    stemWidth: dim(weights, d ? 'conv1.6.weight' : 'conv1.weight', 0) ?? c.stemWidth,
    stages: stages as ResNetConfig['stages'],
    numClasses: dim(weights, 'fc.weight', 0) ?? c.numClasses,
  };
}

const bicubic = (cropPct: number, size = 224): Preprocess => ({ ...preprocess(cropPct, IMAGENET, 'bicubic'), inputSize: [3, size, size] });
/** torchvision's weights (*.tv_in1k): crop 0.875, bilinear */
const TV = preprocess(0.875, IMAGENET, 'bilinear');
const D = { deepStem: true, avgDown: true } as const;
const RS = { ...D, convStemPool: true, seRatio: 0.25 } as const;

const VARIANTS: Variant[] = [
  // default tags a1_in1k / a1h_in1k: crop 0.95 bicubic (not torchvision's 0.875 bilinear)
  { name: 'resnet18', block: 'basic', depths: [2, 2, 2, 2], preprocess: bicubic(0.95) },
  { name: 'resnet34', block: 'basic', depths: [3, 4, 6, 3], preprocess: bicubic(0.95) },
  { name: 'resnet50', block: 'bottleneck', depths: [3, 4, 6, 3], preprocess: bicubic(0.95) },
  { name: 'resnet101', block: 'bottleneck', depths: [3, 4, 23, 3], preprocess: bicubic(0.95) },
  { name: 'resnet152', block: 'bottleneck', depths: [3, 8, 36, 3], preprocess: bicubic(0.95) },
  { name: 'wide_resnet50_2', block: 'bottleneck', depths: [3, 4, 6, 3], baseWidth: 128, preprocess: bicubic(0.875) },
  { name: 'resnetblur18', block: 'basic', depths: [2, 2, 2, 2], blur: true, preprocess: bicubic(0.875) },
  { name: 'resnetblur50', block: 'bottleneck', depths: [3, 4, 6, 3], blur: true, preprocess: bicubic(0.875) },
  // the paper's tv_* names: timm's deprecation table maps them to <arch>.tv_in1k
  { name: 'tv_resnet34', block: 'basic', depths: [3, 4, 6, 3], preprocess: TV },
  { name: 'tv_resnet50', block: 'bottleneck', depths: [3, 4, 6, 3], preprocess: TV },
  { name: 'tv_resnet101', block: 'bottleneck', depths: [3, 4, 23, 3], preprocess: TV },
  { name: 'tv_resnet152', block: 'bottleneck', depths: [3, 8, 36, 3], preprocess: TV },
  { name: 'wide_resnet101_2', block: 'bottleneck', depths: [3, 4, 23, 3], baseWidth: 128, preprocess: TV },
  // ResNet-D (ra2_in1k) and ResNet-RS (tf_in1k)
  { name: 'resnet50d', block: 'bottleneck', depths: [3, 4, 6, 3], ...D, preprocess: bicubic(0.875) },
  { name: 'resnet101d', block: 'bottleneck', depths: [3, 4, 23, 3], ...D, preprocess: bicubic(0.95, 256) },
  { name: 'resnet152d', block: 'bottleneck', depths: [3, 8, 36, 3], ...D, preprocess: bicubic(0.95, 256) },
  { name: 'resnetrs101', block: 'bottleneck', depths: [3, 4, 23, 3], ...RS, preprocess: bicubic(0.94, 192) },
  { name: 'resnetrs152', block: 'bottleneck', depths: [3, 8, 36, 3], ...RS, preprocess: bicubic(1.0, 256) },
];

export const resnetSpecs: ModelSpec[] = VARIANTS.map((v) => ({
  name: v.name,
  family: 'resnet',
  preprocess: v.preprocess,
  build: (weights) => new ResNet(weights ? configFromWeights(v, weights) : defaultConfig(v)),
}));
