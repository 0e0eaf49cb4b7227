import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { BatchNorm2d, BlurPool2d, Conv2d, Identity, Linear, MaxPool2d, ReLU, SelectAdaptivePool2d } from './layers.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec } from './spec.js';

/** timm 0.9.16's ResNet (timm/models/resnet.py) in eval mode: torchvision's layout with
 * the "v1.5" stride on the 3x3 conv, and optional BlurPool anti-aliasing (`aa`). */

/** The strided 3x3 conv's anti-aliasing: with blur, the conv runs at stride 1 and a
 * BlurPool2d does the stride-2 step after the ReLU; otherwise `aa` is an Identity. */
function antiAlias(blur: boolean, channels: number, stride: number): { convStride: number; aa: Module } {
  const useAa = blur && stride === 2;
  return { convStride: useAa ? 1 : stride, aa: useAa ? new BlurPool2d(channels, 3, 2) : new Identity() };
}

/** `downsample`: 1x1 conv at the block's stride (never blurred) + BN, when the shortcut
 * changes resolution or width; otherwise the shortcut is the identity (no module). */
function downsample(inCh: number, outCh: number, stride: number): Sequential | undefined {
  if (stride === 1 && inCh === outCh) return undefined;
  return new Sequential([new Conv2d(inCh, outCh, 1, { stride }), new BatchNorm2d(outCh)]);
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
  readonly act2 = new ReLU();
  readonly downsample?: Sequential;

  constructor(inCh: number, width: number, outCh: number, stride: number, blur: boolean) {
    super();
    const { convStride, aa } = antiAlias(blur, width, stride);
    this.conv1 = new Conv2d(inCh, width, 3, { stride: convStride, padding: 1 });
    this.bn1 = new BatchNorm2d(width);
    this.aa = aa;
    this.conv2 = new Conv2d(width, outCh, 3, { padding: 1 });
    this.bn2 = new BatchNorm2d(outCh);
    this.downsample = downsample(inCh, outCh, stride);
  }

  forward(x: Dual): Dual {
    let y = this.aa.forward(this.act1.forward(this.drop_block.forward(this.bn1.forward(this.conv1.forward(x)))));
    y = this.bn2.forward(this.conv2.forward(y));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return this.act2.forward(ops.add(y, shortcut));
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
  readonly act3 = new ReLU();
  readonly downsample?: Sequential;

  constructor(inCh: number, width: number, outCh: number, stride: number, blur: boolean) {
    super();
    const { convStride, aa } = antiAlias(blur, width, stride);
    this.conv1 = new Conv2d(inCh, width, 1);
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = new Conv2d(width, width, 3, { stride: convStride, padding: 1 });
    this.bn2 = new BatchNorm2d(width);
    this.aa = aa;
    this.conv3 = new Conv2d(width, outCh, 1);
    this.bn3 = new BatchNorm2d(outCh);
    this.downsample = downsample(inCh, outCh, stride);
  }

  forward(x: Dual): Dual {
    let y = this.act1.forward(this.bn1.forward(this.conv1.forward(x)));
    y = this.act2.forward(this.drop_block.forward(this.bn2.forward(this.conv2.forward(y))));
    y = this.bn3.forward(this.conv3.forward(this.aa.forward(y)));
    // timm runs the downsample branch after bn3, before the final ReLU (leaf order)
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return this.act3.forward(ops.add(y, shortcut));
  }
}

export type BlockKind = 'basic' | 'bottleneck';

/** One stage: `depth` blocks, inner `width`, output channels `out`. */
export interface StageConfig {
  depth: number;
  width: number;
  out: number;
}

export interface ResNetConfig {
  block: BlockKind;
  blur: boolean;
  inChans: number;
  stemWidth: number;
  stages: [StageConfig, StageConfig, StageConfig, StageConfig];
  numClasses: number;
}

const STAGE_STRIDES = [1, 2, 2, 2];

export class ResNet extends Module {
  readonly type = 'ResNet';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly act1 = new ReLU();
  /** 3x3 s2 max pool; with blur, `maxpool.0` max pool at stride 1 then `maxpool.1` blur s2 */
  readonly maxpool: Module;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly fc: Linear;

  constructor(readonly config: ResNetConfig) {
    super();
    const { block, blur, stemWidth, stages } = config;
    this.conv1 = new Conv2d(config.inChans, stemWidth, 7, { stride: 2, padding: 3 });
    this.bn1 = new BatchNorm2d(stemWidth);
    this.maxpool = blur
      ? new Sequential([new MaxPool2d(3, 1, 1), new BlurPool2d(stemWidth, 3, 2)])
      : new MaxPool2d(3, 2, 1);
    const Block = block === 'basic' ? BasicBlock : Bottleneck;
    let inCh = stemWidth;
    const layers = stages.map((s, i) => {
      const blocks: Module[] = [];
      for (let j = 0; j < s.depth; j++) {
        blocks.push(new Block(inCh, s.width, s.out, j === 0 ? STAGE_STRIDES[i]! : 1, blur));
        inCh = s.out;
      }
      return new Sequential(blocks);
    });
    [this.layer1, this.layer2, this.layer3, this.layer4] = layers as [Sequential, Sequential, Sequential, Sequential];
    this.fc = new Linear(inCh, config.numClasses);
  }

  forward(x: Dual): Dual {
    x = this.maxpool.forward(this.act1.forward(this.bn1.forward(this.conv1.forward(x))));
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) x = layer.forward(x);
    return this.fc.forward(this.global_pool.forward(x));
  }
}

/** A named architecture's default: stage depths, block, blur, bottleneck base width. */
interface Variant {
  name: string;
  block: BlockKind;
  depths: [number, number, number, number];
  blur?: boolean;
  baseWidth?: number;
  cropPct: number;
}

const PLANES = [64, 128, 256, 512];

function defaultConfig(v: Variant): ResNetConfig {
  const expansion = v.block === 'basic' ? 1 : 4;
  const baseWidth = v.baseWidth ?? 64;
  const stages = v.depths.map((depth, i) => {
    const planes = PLANES[i]!;
    // BasicBlock is always planes wide; Bottleneck's width is floor(planes * base_width / 64)
    const width = v.block === 'basic' ? planes : Math.floor((planes * baseWidth) / 64);
    return { depth, width, out: planes * expansion };
  });
  return {
    block: v.block,
    blur: !!v.blur,
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

/** Sizes the weights show; the block kind and blur are the architecture's (blur has no
 * weights, and another block kind's weights must be rejected, not adopted). Where a size
 * is not visible the default stays, so the loader lists what is missing. */
function configFromWeights(v: Variant, weights: Map<string, HostTensor>): ResNetConfig {
  const c = defaultConfig(v);
  const last = v.block === 'basic' ? 'conv2' : 'conv3';
  const stages = c.stages.map((s, i) => {
    const prefix = `layer${i + 1}.`;
    return {
      depth: countIndexed(weights, prefix, '.conv1.weight') || s.depth,
      width: dim(weights, `${prefix}0.conv1.weight`, 0) ?? s.width,
      out: dim(weights, `${prefix}0.${last}.weight`, 0) ?? s.out,
    };
  });
  return {
    ...c,
    inChans: dim(weights, 'conv1.weight', 1) ?? c.inChans,
    stemWidth: dim(weights, 'conv1.weight', 0) ?? c.stemWidth,
    stages: stages as ResNetConfig['stages'],
    numClasses: dim(weights, 'fc.weight', 0) ?? c.numClasses,
  };
}

const VARIANTS: Variant[] = [
  // default tags a1_in1k / a1h_in1k: crop 0.95 bicubic (not torchvision's 0.875 bilinear)
  { name: 'resnet18', block: 'basic', depths: [2, 2, 2, 2], cropPct: 0.95 },
  { name: 'resnet34', block: 'basic', depths: [3, 4, 6, 3], cropPct: 0.95 },
  { name: 'resnet50', block: 'bottleneck', depths: [3, 4, 6, 3], cropPct: 0.95 },
  { name: 'resnet101', block: 'bottleneck', depths: [3, 4, 23, 3], cropPct: 0.95 },
  { name: 'resnet152', block: 'bottleneck', depths: [3, 8, 36, 3], cropPct: 0.95 },
  { name: 'wide_resnet50_2', block: 'bottleneck', depths: [3, 4, 6, 3], baseWidth: 128, cropPct: 0.875 },
  { name: 'resnetblur18', block: 'basic', depths: [2, 2, 2, 2], blur: true, cropPct: 0.875 },
  { name: 'resnetblur50', block: 'bottleneck', depths: [3, 4, 6, 3], blur: true, cropPct: 0.875 },
];

export const resnetSpecs: ModelSpec[] = VARIANTS.map((v) => ({
  name: v.name,
  family: 'resnet',
  preprocess: preprocess(v.cropPct, IMAGENET, 'bicubic'),
  build: (weights) => new ResNet(weights ? configFromWeights(v, weights) : defaultConfig(v)),
}));
