import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { AvgPool2d, Conv2d, Identity, Linear, MaxPool2d, ReLU, SelectAdaptivePool2d } from './layers.js';
import { Dropout } from './transformer-layers.js';
import { convNormActs, type ConvNormAct, type ConvNormActFactory } from './norm-act.js';
import { INCEPTION, countIndexed, shapeOf, type ModelSpec } from './spec.js';
import { checkInceptionInput } from './inception_v3.js';

// Inception-ResNet v2 (Szegedy et al. 2017) as timm 0.9.16's `InceptionResnetV2`: the
// Inception stem, Mixed_5b, 10 Block35 (35x35), Mixed_6a, 20 Block17 (17x17), Mixed_7a,
// 9 Block8 and a last Block8 without ReLU (8x8), conv2d_7b, avg pool, `classif`. Each
// residual block concatenates its branches, projects them with a 1x1 conv (with bias)
// back to the trunk width and adds `scale` times that to its input. Every other conv is a
// ConvNormAct (BatchNormAct2d eps 1e-3, ReLU). Widths are timm's where the weights do not
// say otherwise; the number of residual blocks per stage is read from the weights.

/** Convs in sequence, each fed the last one's width, named `<p>.0`, `<p>.1`, ... */
function convs(conv: ConvNormActFactory, p: string, inCh: number, layers: [number, number | [number, number], object?][]): Sequential {
  const items: ConvNormAct[] = [];
  for (const [out, kernel, o] of layers) items.push(conv(`${p}.${items.length}`, items.length ? items[items.length - 1]!.outChannels : inCh, out, kernel, o));
  return new Sequential(items);
}
const outOf = (s: Sequential) => (s.items[s.items.length - 1] as ConvNormAct).outChannels;
const P1 = { padding: 1 };

class Mixed_5b extends Module {
  readonly type = 'Mixed_5b';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  readonly branch3: Sequential;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 96, 1);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[48, 1], [64, 5, { padding: 2 }]]);
    this.branch2 = convs(conv, `${p}.branch2`, inCh, [[64, 1], [96, 3, P1], [96, 3, P1]]);
    this.branch3 = new Sequential([new AvgPool2d(3, 1, 1, { countIncludePad: false }), conv(`${p}.branch3.1`, inCh, 64, 1)]);
    this.outChannels = this.branch0.outChannels + outOf(this.branch1) + outOf(this.branch2) + outOf(this.branch3);
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), this.branch1.forward(x), this.branch2.forward(x), this.branch3.forward(x)], 1);
  }
}

/** x + scale conv2d(concat(branches)), then `act` (a per-channel scale and a residual
 * add, both exactly equivariant, so not layers). */
abstract class ResidualBlock extends Module {
  abstract readonly conv2d: Conv2d;
  constructor(readonly scale: number) {
    super();
  }
  protected abstract branches(x: Dual): Dual[];
  protected abstract get activation(): Module | undefined;
  forward(x: Dual): Dual {
    const up = this.conv2d.forward(ops.concat(this.branches(x), 1));
    const out = ops.add(ops.affine(up, this.scale), x);
    return this.activation ? this.activation.forward(out) : out;
  }
}

/** 35x35: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3, scale 0.17. */
class Block35 extends ResidualBlock {
  readonly type = 'Block35';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  readonly conv2d: Conv2d;
  readonly act = new ReLU();
  constructor(p: string, ch: number, scale: number, conv: ConvNormActFactory) {
    super(scale);
    this.branch0 = conv(`${p}.branch0`, ch, 32, 1);
    this.branch1 = convs(conv, `${p}.branch1`, ch, [[32, 1], [32, 3, P1]]);
    this.branch2 = convs(conv, `${p}.branch2`, ch, [[32, 1], [48, 3, P1], [64, 3, P1]]);
    this.conv2d = new Conv2d(this.branch0.outChannels + outOf(this.branch1) + outOf(this.branch2), ch, 1, { bias: true });
  }
  protected branches(x: Dual): Dual[] {
    return [this.branch0.forward(x), this.branch1.forward(x), this.branch2.forward(x)];
  }
  protected get activation(): Module {
    return this.act;
  }
}

/** Reduction to 17x17: 3x3 s2 | 1x1 -> 3x3 -> 3x3 s2 | max pool s2. */
class Mixed_6a extends Module {
  readonly type = 'Mixed_6a';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2 = new MaxPool2d(3, 2);
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 384, 3, { stride: 2 });
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[256, 1], [256, 3, P1], [384, 3, { stride: 2 }]]);
    this.outChannels = this.branch0.outChannels + outOf(this.branch1) + inCh;
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), this.branch1.forward(x), this.branch2.forward(x)], 1);
  }
}

/** 17x17: 1x1 | 1x1 -> 1x7 -> 7x1, scale 0.1. */
class Block17 extends ResidualBlock {
  readonly type = 'Block17';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly conv2d: Conv2d;
  readonly act = new ReLU();
  constructor(p: string, ch: number, scale: number, conv: ConvNormActFactory) {
    super(scale);
    this.branch0 = conv(`${p}.branch0`, ch, 192, 1);
    this.branch1 = convs(conv, `${p}.branch1`, ch, [
      [128, 1],
      [160, [1, 7], { padding: [0, 3] }],
      [192, [7, 1], { padding: [3, 0] }],
    ]);
    this.conv2d = new Conv2d(this.branch0.outChannels + outOf(this.branch1), ch, 1, { bias: true });
  }
  protected branches(x: Dual): Dual[] {
    return [this.branch0.forward(x), this.branch1.forward(x)];
  }
  protected get activation(): Module {
    return this.act;
  }
}

/** Reduction to 8x8: 1x1 -> 3x3 s2 | 1x1 -> 3x3 s2 | 1x1 -> 3x3 -> 3x3 s2 | max pool s2. */
class Mixed_7a extends Module {
  readonly type = 'Mixed_7a';
  readonly branch0: Sequential;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  readonly branch3 = new MaxPool2d(3, 2);
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = convs(conv, `${p}.branch0`, inCh, [[256, 1], [384, 3, { stride: 2 }]]);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[256, 1], [288, 3, { stride: 2 }]]);
    this.branch2 = convs(conv, `${p}.branch2`, inCh, [[256, 1], [288, 3, P1], [320, 3, { stride: 2 }]]);
    this.outChannels = outOf(this.branch0) + outOf(this.branch1) + outOf(this.branch2) + inCh;
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), this.branch1.forward(x), this.branch2.forward(x), this.branch3.forward(x)], 1);
  }
}

/** 8x8: 1x1 | 1x1 -> 1x3 -> 3x1, scale 0.2; the network's last one has no ReLU (`relu`
 * is None in timm, so no module). */
class Block8 extends ResidualBlock {
  readonly type = 'Block8';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly conv2d: Conv2d;
  readonly relu?: ReLU;
  constructor(p: string, ch: number, scale: number, conv: ConvNormActFactory, noRelu = false) {
    super(scale);
    this.branch0 = conv(`${p}.branch0`, ch, 192, 1);
    this.branch1 = convs(conv, `${p}.branch1`, ch, [
      [192, 1],
      [224, [1, 3], { padding: [0, 1] }],
      [256, [3, 1], { padding: [1, 0] }],
    ]);
    this.conv2d = new Conv2d(this.branch0.outChannels + outOf(this.branch1), ch, 1, { bias: true });
    if (!noRelu) this.relu = new ReLU();
  }
  protected branches(x: Dual): Dual[] {
    return [this.branch0.forward(x), this.branch1.forward(x)];
  }
  protected get activation(): Module | undefined {
    return this.relu;
  }
}

export interface InceptionResnetV2Config {
  inChans: number;
  /** residual blocks in `repeat` (Block35), `repeat_1` (Block17), `repeat_2` (Block8) */
  repeats: [number, number, number];
  numClasses: number;
}

export class InceptionResnetV2 extends Module {
  readonly type = 'InceptionResnetV2';
  readonly conv2d_1a: ConvNormAct;
  readonly conv2d_2a: ConvNormAct;
  readonly conv2d_2b: ConvNormAct;
  readonly maxpool_3a = new MaxPool2d(3, 2);
  readonly conv2d_3b: ConvNormAct;
  readonly conv2d_4a: ConvNormAct;
  readonly maxpool_5a = new MaxPool2d(3, 2);
  readonly mixed_5b: Mixed_5b;
  readonly repeat: Sequential;
  readonly mixed_6a: Mixed_6a;
  readonly repeat_1: Sequential;
  readonly mixed_7a: Mixed_7a;
  readonly repeat_2: Sequential;
  readonly block8: Block8;
  readonly conv2d_7b: ConvNormAct;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly head_drop = new Dropout();
  readonly classif: Module;

  constructor(
    readonly config: InceptionResnetV2Config,
    weights?: Map<string, HostTensor>,
  ) {
    super();
    const conv = convNormActs(weights, { eps: 1e-3 });
    this.conv2d_1a = conv('conv2d_1a', config.inChans, 32, 3, { stride: 2 });
    this.conv2d_2a = conv('conv2d_2a', this.conv2d_1a.outChannels, 32, 3);
    this.conv2d_2b = conv('conv2d_2b', this.conv2d_2a.outChannels, 64, 3, P1);
    this.conv2d_3b = conv('conv2d_3b', this.conv2d_2b.outChannels, 80, 1);
    this.conv2d_4a = conv('conv2d_4a', this.conv2d_3b.outChannels, 192, 3);
    this.mixed_5b = new Mixed_5b('mixed_5b', this.conv2d_4a.outChannels, conv);
    const [n35, n17, n8] = config.repeats;
    const c35 = this.mixed_5b.outChannels;
    this.repeat = new Sequential(Array.from({ length: n35 }, (_, i) => new Block35(`repeat.${i}`, c35, 0.17, conv)));
    this.mixed_6a = new Mixed_6a('mixed_6a', c35, conv);
    const c17 = this.mixed_6a.outChannels;
    this.repeat_1 = new Sequential(Array.from({ length: n17 }, (_, i) => new Block17(`repeat_1.${i}`, c17, 0.1, conv)));
    this.mixed_7a = new Mixed_7a('mixed_7a', c17, conv);
    const c8 = this.mixed_7a.outChannels;
    this.repeat_2 = new Sequential(Array.from({ length: n8 }, (_, i) => new Block8(`repeat_2.${i}`, c8, 0.2, conv)));
    this.block8 = new Block8('block8', c8, 1.0, conv, true);
    this.conv2d_7b = conv('conv2d_7b', c8, 1536, 1);
    this.classif = config.numClasses > 0 ? new Linear(this.conv2d_7b.outChannels, config.numClasses) : new Identity();
  }

  forward(x: Dual): Dual {
    checkInceptionInput(x, 'Inception-ResNet v2');
    const trunk = [
      this.conv2d_1a,
      this.conv2d_2a,
      this.conv2d_2b,
      this.maxpool_3a,
      this.conv2d_3b,
      this.conv2d_4a,
      this.maxpool_5a,
      this.mixed_5b,
      this.repeat,
      this.mixed_6a,
      this.repeat_1,
      this.mixed_7a,
      this.repeat_2,
      this.block8,
      this.conv2d_7b,
    ];
    const h = trunk.reduce((t, m) => m.forward(t), x);
    return this.classif.forward(this.head_drop.forward(this.global_pool.forward(h)));
  }
}

function configFromWeights(w?: Map<string, HostTensor>): InceptionResnetV2Config {
  const fc = shapeOf(w, 'classif.weight');
  const count = (stage: string, d: number) => (w ? countIndexed(w, `${stage}.`, '.conv2d.weight') || d : d);
  return {
    inChans: shapeOf(w, 'conv2d_1a.conv.weight')?.[1] ?? 3,
    repeats: [count('repeat', 10), count('repeat_1', 20), count('repeat_2', 9)],
    numClasses: fc ? fc[0]! : w?.has('conv2d_7b.conv.weight') ? 0 : 1000,
  };
}

export const inceptionResnetV2Specs: ModelSpec[] = [
  {
    name: 'inception_resnet_v2',
    family: 'inception',
    // default tag tf_in1k: 299 px, crop 0.8975, bicubic, Inception mean/std
    preprocess: { inputSize: [3, 299, 299], cropPct: 0.8975, interpolation: 'bicubic', ...INCEPTION },
    build: (weights) => new InceptionResnetV2(configFromWeights(weights), weights),
  },
];
