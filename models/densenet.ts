import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, Sequential } from './module.js';
import { AvgPool2d, BlurPool2d, Conv2d, Identity, Linear, MaxPool2d, SelectAdaptivePool2d } from './layers.js';
import { BatchNormAct2d } from './norm-act.js';
import { Dropout } from './transformer-layers.js';
import { IMAGENET, preprocess, shapeOf, type ModelSpec } from './spec.js';

// DenseNet-BC (Huang et al. 2017) as timm 0.9.16's `DenseNet` (timm/models/densenet.py):
// `features` (stem, dense blocks joined by transitions, norm5), then global pool -> fc.
// Every layer of a dense block sees the channel concatenation of the block input and all
// earlier layers' outputs (growth_rate channels each), through BatchNormAct2d -> 1x1 conv
// (bn_size * growth_rate wide) -> BatchNormAct2d -> 3x3 conv. A transition halves the
// channels (1x1 conv) and the resolution (2x2 average pool; densenetblur121d blurs only its
// stem pool, timm's aa_stem_only).

/** nn.Sequential built from an OrderedDict: children under their own names. */
class NamedSequential extends Module {
  readonly type: string = 'Sequential';
  constructor(readonly items: [string, Module][]) {
    super();
  }
  override entries(): [string, Module | Param][] {
    return this.items;
  }
  forward(x: Dual): Dual {
    for (const [, m] of this.items) x = m.forward(x);
    return x;
  }
}

export class DenseLayer extends Module {
  readonly type = 'DenseLayer';
  readonly norm1: BatchNormAct2d;
  readonly conv1: Conv2d;
  readonly norm2: BatchNormAct2d;
  readonly conv2: Conv2d;
  constructor(inChannels: number, bottleneck: number, growth: number) {
    super();
    this.norm1 = new BatchNormAct2d(inChannels);
    this.conv1 = new Conv2d(inChannels, bottleneck, 1);
    this.norm2 = new BatchNormAct2d(bottleneck);
    this.conv2 = new Conv2d(bottleneck, growth, 3, { padding: 1 });
  }
  /** timm's forward on the list of earlier features: concatenated along channels
   * (equivariant: every channel moves alike), then the bottleneck and the 3x3 conv. */
  forwardFeatures(features: Dual[]): Dual {
    const x = features.length === 1 ? features[0]! : ops.concat(features, 1);
    return this.conv2.forward(this.norm2.forward(this.conv1.forward(this.norm1.forward(x))));
  }
  forward(x: Dual): Dual {
    return this.forwardFeatures([x]);
  }
}

/** timm's DenseBlock (an nn.ModuleDict: children `denselayer1` ...): the input and every
 * layer's output, concatenated along channels. */
export class DenseBlock extends Module {
  readonly type = 'DenseBlock';
  constructor(readonly layers: DenseLayer[]) {
    super();
  }
  override entries(): [string, Module | Param][] {
    return this.layers.map((l, i) => [`denselayer${i + 1}`, l]);
  }
  forward(x: Dual): Dual {
    const features = [x];
    for (const l of this.layers) features.push(l.forwardFeatures(features));
    return ops.concat(features, 1);
  }
}

/** timm's DenseTransition (an nn.Sequential): norm -> 1x1 conv -> 2x2 average pool. */
export class DenseTransition extends Module {
  readonly type = 'DenseTransition';
  readonly norm: BatchNormAct2d;
  readonly conv: Conv2d;
  readonly pool = new AvgPool2d(2, 2);
  constructor(inChannels: number, outChannels: number) {
    super();
    this.norm = new BatchNormAct2d(inChannels);
    this.conv = new Conv2d(inChannels, outChannels, 1);
  }
  forward(x: Dual): Dual {
    return this.pool.forward(this.conv.forward(this.norm.forward(x)));
  }
}

export interface DenseNetConfig {
  /** 3-layer 3x3 stem (stem_type 'deep'): conv0/conv1 widths, conv2 gives initFeatures */
  deepStem: [number, number] | null;
  /** stem pool as MaxPool2d(3, 1, 1) + BlurPool2d (aa_layer, stem only) */
  blur: boolean;
  inChans: number;
  /** stem output (2 growth in timm) */
  initFeatures: number;
  growth: number;
  /** the 1x1 conv's width, bn_size * growth */
  bottleneck: number;
  blocks: number[];
  /** each transition's output width (half its input in timm) */
  transitions: number[];
  numClasses: number;
}

export class DenseNet extends Module {
  readonly type = 'DenseNet';
  readonly features: NamedSequential;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly head_drop = new Dropout();
  readonly classifier: Module;
  constructor(readonly config: DenseNetConfig) {
    super();
    const { deepStem, initFeatures: init, growth, bottleneck } = config;
    const stem: [string, Module][] = deepStem
      ? [
          ['conv0', new Conv2d(config.inChans, deepStem[0], 3, { stride: 2, padding: 1 })],
          ['norm0', new BatchNormAct2d(deepStem[0])],
          ['conv1', new Conv2d(deepStem[0], deepStem[1], 3, { padding: 1 })],
          ['norm1', new BatchNormAct2d(deepStem[1])],
          ['conv2', new Conv2d(deepStem[1], init, 3, { padding: 1 })],
          ['norm2', new BatchNormAct2d(init)],
        ]
      : [
          ['conv0', new Conv2d(config.inChans, init, 7, { stride: 2, padding: 3 })],
          ['norm0', new BatchNormAct2d(init)],
        ];
    const pool = config.blur ? new Sequential([new MaxPool2d(3, 1, 1), new BlurPool2d(init, 3, 2)]) : new MaxPool2d(3, 2, 1);
    const items: [string, Module][] = [...stem, ['pool0', pool]];
    let ch = init;
    config.blocks.forEach((n, i) => {
      const layers = Array.from({ length: n }, (_, j) => new DenseLayer(ch + j * growth, bottleneck, growth));
      items.push([`denseblock${i + 1}`, new DenseBlock(layers)]);
      ch += n * growth;
      if (i < config.blocks.length - 1) {
        const out = config.transitions[i]!;
        items.push([`transition${i + 1}`, new DenseTransition(ch, out)]);
        ch = out;
      }
    });
    items.push(['norm5', new BatchNormAct2d(ch)]);
    this.features = new NamedSequential(items);
    this.classifier = config.numClasses > 0 ? new Linear(ch, config.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    return this.classifier.forward(this.head_drop.forward(this.global_pool.forward(this.features.forward(x))));
  }
}

interface Variant {
  name: string;
  growth: number;
  blocks: number[];
  deep?: boolean;
  blur?: boolean;
}

function defaultConfig(v: Variant): DenseNetConfig {
  const init = 2 * v.growth;
  const transitions: number[] = [];
  let ch = init;
  v.blocks.slice(0, -1).forEach((n) => {
    ch = Math.floor((ch + n * v.growth) / 2);
    transitions.push(ch);
  });
  return {
    deepStem: v.deep ? [v.growth, v.growth] : null,
    blur: !!v.blur,
    inChans: 3,
    initFeatures: init,
    growth: v.growth,
    bottleneck: 4 * v.growth,
    blocks: v.blocks,
    transitions,
    numClasses: 1000,
  };
}

/** n >= 1 such that `${prefix}${1..n}${suffix}` are keys (timm counts dense blocks and
 * layers from 1). */
function countFromOne(w: Map<string, HostTensor>, prefix: string, suffix: string): number {
  let n = 0;
  while (w.has(`${prefix}${n + 1}${suffix}`)) n++;
  return n;
}

/** Widths, growth and block lengths the weights show; the stem kind and blur are the
 * architecture's. */
function configFromWeights(d: DenseNetConfig, w: Map<string, HostTensor>): DenseNetConfig {
  const f = 'features.';
  const nBlocks = countFromOne(w, `${f}denseblock`, '.denselayer1.conv1.weight') || d.blocks.length;
  const blocks = Array.from({ length: nBlocks }, (_, i) => countFromOne(w, `${f}denseblock${i + 1}.denselayer`, '.conv1.weight') || d.blocks[i] || 1);
  const first = `${f}denseblock1.denselayer1`;
  const initFeatures = shapeOf(w, `${f}${d.deepStem ? 'conv2' : 'conv0'}.weight`)?.[0] ?? d.initFeatures;
  const growth = shapeOf(w, `${first}.conv2.weight`)?.[0] ?? d.growth;
  // each transition's width where the weights show it, else timm's half of its input
  let ch = initFeatures;
  const transitions = blocks.slice(0, -1).map((n, i) => {
    ch = shapeOf(w, `${f}transition${i + 1}.conv.weight`)?.[0] ?? Math.floor((ch + n * growth) / 2);
    return ch;
  });
  return {
    ...d,
    deepStem: d.deepStem
      ? [shapeOf(w, `${f}conv0.weight`)?.[0] ?? d.deepStem[0], shapeOf(w, `${f}conv1.weight`)?.[0] ?? d.deepStem[1]]
      : null,
    inChans: shapeOf(w, `${f}conv0.weight`)?.[1] ?? d.inChans,
    initFeatures,
    growth,
    bottleneck: shapeOf(w, `${first}.conv1.weight`)?.[0] ?? d.bottleneck,
    blocks,
    transitions,
    numClasses: shapeOf(w, 'classifier.weight')?.[0] ?? (w.has(`${f}norm5.weight`) ? 0 : d.numClasses),
  };
}

const VARIANTS: Variant[] = [
  { name: 'densenet121', growth: 32, blocks: [6, 12, 24, 16] },
  { name: 'densenet161', growth: 48, blocks: [6, 12, 36, 24] },
  { name: 'densenet169', growth: 32, blocks: [6, 12, 32, 32] },
  { name: 'densenet201', growth: 32, blocks: [6, 12, 48, 32] },
  // the paper's name for densenet121.tv_in1k (timm's deprecation table)
  { name: 'tv_densenet121', growth: 32, blocks: [6, 12, 24, 16] },
  { name: 'densenetblur121d', growth: 32, blocks: [6, 12, 24, 16], deep: true, blur: true },
];

// every default tag (ra_in1k, tv_in1k): crop 0.875, bicubic
export const densenetSpecs: ModelSpec[] = VARIANTS.map((v) => ({
  name: v.name,
  family: 'densenet',
  preprocess: preprocess(0.875, IMAGENET, 'bicubic'),
  build: (weights) => {
    const d = defaultConfig(v);
    return new DenseNet(weights ? configFromWeights(d, weights) : d);
  },
}));
