import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { AvgPool2d, Identity, Linear, MaxPool2d, SelectAdaptivePool2d } from './layers.js';
import { Dropout } from './transformer-layers.js';
import { convNormActs, type ConvNormAct, type ConvNormActFactory } from './norm-act.js';
import { INCEPTION, shapeOf, type ModelSpec } from './spec.js';
import { checkInceptionInput } from './inception_v3.js';

// Inception v4 (Szegedy et al. 2017) as timm 0.9.16's `InceptionV4`: one `features`
// Sequential of a 3-conv stem, Mixed3a / 4a / 5a (two-branch stem blocks), InceptionA x4
// (35x35), ReductionA, InceptionB x7 (17x17), ReductionB, InceptionC x3 (8x8), then avg
// pool and `last_linear`. Every conv is a ConvNormAct (BatchNormAct2d eps 1e-3, ReLU);
// pools are modules (max 3x3 s2, branch avg 3x3 s1 p1 without counting the padding).
// Widths are timm's where the weights do not say otherwise; how many blocks of each kind
// there are is read from the weights.

const seq = (x: Dual, s: Sequential) => s.forward(x);
const outOf = (s: Sequential) => (s.items[s.items.length - 1] as ConvNormAct).outChannels;
const branchAvgPool = () => new AvgPool2d(3, 1, 1, { countIncludePad: false });

/** Convs in sequence, each fed the last one's width, named `<p>.0`, `<p>.1`, ... */
function convs(conv: ConvNormActFactory, p: string, inCh: number, layers: [number, number | [number, number], object?][]): Sequential {
  const items: ConvNormAct[] = [];
  for (const [out, kernel, o] of layers) {
    const c = conv(`${p}.${items.length}`, items.length ? items[items.length - 1]!.outChannels : inCh, out, kernel, o);
    items.push(c);
  }
  return new Sequential(items);
}

const ROW3 = { padding: [0, 3] as [number, number] };
const COL3 = { padding: [3, 0] as [number, number] };
const ROW1 = { padding: [0, 1] as [number, number] };
const COL1 = { padding: [1, 0] as [number, number] };

abstract class Block extends Module {
  abstract readonly outChannels: number;
}

class Mixed3a extends Block {
  readonly type = 'Mixed3a';
  readonly maxpool = new MaxPool2d(3, 2);
  readonly conv: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.conv = conv(`${p}.conv`, inCh, 96, 3, { stride: 2 });
    this.outChannels = inCh + this.conv.outChannels;
  }
  forward(x: Dual): Dual {
    return ops.concat([this.maxpool.forward(x), this.conv.forward(x)], 1);
  }
}

class Mixed4a extends Block {
  readonly type = 'Mixed4a';
  readonly branch0: Sequential;
  readonly branch1: Sequential;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = convs(conv, `${p}.branch0`, inCh, [[64, 1], [96, 3]]);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[64, 1], [64, [1, 7], ROW3], [64, [7, 1], COL3], [96, 3]]);
    this.outChannels = outOf(this.branch0) + outOf(this.branch1);
  }
  forward(x: Dual): Dual {
    return ops.concat([seq(x, this.branch0), seq(x, this.branch1)], 1);
  }
}

class Mixed5a extends Block {
  readonly type = 'Mixed5a';
  readonly conv: ConvNormAct;
  readonly maxpool = new MaxPool2d(3, 2);
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.conv = conv(`${p}.conv`, inCh, 192, 3, { stride: 2 });
    this.outChannels = this.conv.outChannels + inCh;
  }
  forward(x: Dual): Dual {
    return ops.concat([this.conv.forward(x), this.maxpool.forward(x)], 1);
  }
}

/** 35x35: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1. */
class InceptionA extends Block {
  readonly type = 'InceptionA';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  readonly branch3: Sequential;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 96, 1);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[64, 1], [96, 3, { padding: 1 }]]);
    this.branch2 = convs(conv, `${p}.branch2`, inCh, [[64, 1], [96, 3, { padding: 1 }], [96, 3, { padding: 1 }]]);
    this.branch3 = new Sequential([branchAvgPool(), conv(`${p}.branch3.1`, inCh, 96, 1)]);
    this.outChannels = this.branch0.outChannels + outOf(this.branch1) + outOf(this.branch2) + outOf(this.branch3);
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), seq(x, this.branch1), seq(x, this.branch2), seq(x, this.branch3)], 1);
  }
}

/** Reduction to 17x17: 3x3 s2 | 1x1 -> 3x3 -> 3x3 s2 | max pool s2. */
class ReductionA extends Block {
  readonly type = 'ReductionA';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2 = new MaxPool2d(3, 2);
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 384, 3, { stride: 2 });
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[192, 1], [224, 3, { padding: 1 }], [256, 3, { stride: 2 }]]);
    this.outChannels = this.branch0.outChannels + outOf(this.branch1) + inCh;
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), seq(x, this.branch1), this.branch2.forward(x)], 1);
  }
}

/** 17x17, 7x7 factorised: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1, 1x7) x2 | pool -> 1x1. */
class InceptionB extends Block {
  readonly type = 'InceptionB';
  readonly branch0: ConvNormAct;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  readonly branch3: Sequential;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 384, 1);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[192, 1], [224, [1, 7], ROW3], [256, [7, 1], COL3]]);
    this.branch2 = convs(conv, `${p}.branch2`, inCh, [
      [192, 1],
      [192, [7, 1], COL3],
      [224, [1, 7], ROW3],
      [224, [7, 1], COL3],
      [256, [1, 7], ROW3],
    ]);
    this.branch3 = new Sequential([branchAvgPool(), conv(`${p}.branch3.1`, inCh, 128, 1)]);
    this.outChannels = this.branch0.outChannels + outOf(this.branch1) + outOf(this.branch2) + outOf(this.branch3);
  }
  forward(x: Dual): Dual {
    return ops.concat([this.branch0.forward(x), seq(x, this.branch1), seq(x, this.branch2), seq(x, this.branch3)], 1);
  }
}

/** Reduction to 8x8: 1x1 -> 3x3 s2 | 1x1 -> 1x7 -> 7x1 -> 3x3 s2 | max pool s2. */
class ReductionB extends Block {
  readonly type = 'ReductionB';
  readonly branch0: Sequential;
  readonly branch1: Sequential;
  readonly branch2 = new MaxPool2d(3, 2);
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = convs(conv, `${p}.branch0`, inCh, [[192, 1], [192, 3, { stride: 2 }]]);
    this.branch1 = convs(conv, `${p}.branch1`, inCh, [[256, 1], [256, [1, 7], ROW3], [320, [7, 1], COL3], [320, 3, { stride: 2 }]]);
    this.outChannels = outOf(this.branch0) + outOf(this.branch1) + inCh;
  }
  forward(x: Dual): Dual {
    return ops.concat([seq(x, this.branch0), seq(x, this.branch1), this.branch2.forward(x)], 1);
  }
}

/** 8x8: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x1 -> 1x3 -> (1x3, 3x1) | pool -> 1x1. */
class InceptionC extends Block {
  readonly type = 'InceptionC';
  readonly branch0: ConvNormAct;
  readonly branch1_0: ConvNormAct;
  readonly branch1_1a: ConvNormAct;
  readonly branch1_1b: ConvNormAct;
  readonly branch2_0: ConvNormAct;
  readonly branch2_1: ConvNormAct;
  readonly branch2_2: ConvNormAct;
  readonly branch2_3a: ConvNormAct;
  readonly branch2_3b: ConvNormAct;
  readonly branch3: Sequential;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch0 = conv(`${p}.branch0`, inCh, 256, 1);
    this.branch1_0 = conv(`${p}.branch1_0`, inCh, 384, 1);
    this.branch1_1a = conv(`${p}.branch1_1a`, this.branch1_0.outChannels, 256, [1, 3], ROW1);
    this.branch1_1b = conv(`${p}.branch1_1b`, this.branch1_0.outChannels, 256, [3, 1], COL1);
    this.branch2_0 = conv(`${p}.branch2_0`, inCh, 384, 1);
    this.branch2_1 = conv(`${p}.branch2_1`, this.branch2_0.outChannels, 448, [3, 1], COL1);
    this.branch2_2 = conv(`${p}.branch2_2`, this.branch2_1.outChannels, 512, [1, 3], ROW1);
    this.branch2_3a = conv(`${p}.branch2_3a`, this.branch2_2.outChannels, 256, [1, 3], ROW1);
    this.branch2_3b = conv(`${p}.branch2_3b`, this.branch2_2.outChannels, 256, [3, 1], COL1);
    this.branch3 = new Sequential([branchAvgPool(), conv(`${p}.branch3.1`, inCh, 256, 1)]);
    this.outChannels = [this.branch0, this.branch1_1a, this.branch1_1b, this.branch2_3a, this.branch2_3b].reduce((a, c) => a + c.outChannels, 0) + outOf(this.branch3);
  }
  forward(x: Dual): Dual {
    const b0 = this.branch0.forward(x);
    const h1 = this.branch1_0.forward(x);
    const b1 = ops.concat([this.branch1_1a.forward(h1), this.branch1_1b.forward(h1)], 1);
    const h2 = this.branch2_2.forward(this.branch2_1.forward(this.branch2_0.forward(x)));
    const b2 = ops.concat([this.branch2_3a.forward(h2), this.branch2_3b.forward(h2)], 1);
    return ops.concat([b0, b1, b2, seq(x, this.branch3)], 1);
  }
}

type Kind = 'A' | 'RA' | 'B' | 'RB' | 'C';
const BLOCKS: Record<Kind, new (p: string, inCh: number, conv: ConvNormActFactory) => Block> = {
  A: InceptionA,
  RA: ReductionA,
  B: InceptionB,
  RB: ReductionB,
  C: InceptionC,
};
const DEFAULT_BLOCKS: Kind[] = [...Array<Kind>(4).fill('A'), 'RA', ...Array<Kind>(7).fill('B'), 'RB', ...Array<Kind>(3).fill('C')];

/** The kind of block at features.i by its keys (after the six stem entries). */
function kindAt(w: Map<string, HostTensor>, i: number): Kind | undefined {
  const has = (k: string) => w.has(`features.${i}.${k}.conv.weight`);
  if (has('branch1_0')) return 'C';
  if (has('branch0.0')) return 'RB';
  if (has('branch3.1')) return has('branch2.4') ? 'B' : 'A';
  if (has('branch0')) return 'RA';
  return undefined;
}

export interface InceptionV4Config {
  inChans: number;
  /** features.6 on: the blocks in order */
  blocks: Kind[];
  numClasses: number;
}

export class InceptionV4 extends Module {
  readonly type = 'InceptionV4';
  readonly features: Sequential;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly head_drop = new Dropout();
  readonly last_linear: Module;

  constructor(
    readonly config: InceptionV4Config,
    weights?: Map<string, HostTensor>,
  ) {
    super();
    const conv = convNormActs(weights, { eps: 1e-3 });
    const stem = [conv('features.0', config.inChans, 32, 3, { stride: 2 })];
    stem.push(conv('features.1', stem[0]!.outChannels, 32, 3));
    stem.push(conv('features.2', stem[1]!.outChannels, 64, 3, { padding: 1 }));
    const items: (ConvNormAct | Block)[] = [...stem];
    let ch = stem[2]!.outChannels;
    const add = (b: Block) => {
      items.push(b);
      ch = b.outChannels;
    };
    add(new Mixed3a('features.3', ch, conv));
    add(new Mixed4a('features.4', ch, conv));
    add(new Mixed5a('features.5', ch, conv));
    config.blocks.forEach((k, i) => add(new BLOCKS[k](`features.${6 + i}`, ch, conv)));
    this.features = new Sequential(items);
    this.last_linear = config.numClasses > 0 ? new Linear(ch, config.numClasses) : new Identity();
  }

  forward(x: Dual): Dual {
    checkInceptionInput(x, 'Inception v4');
    return this.last_linear.forward(this.head_drop.forward(this.global_pool.forward(this.features.forward(x))));
  }
}

function configFromWeights(w?: Map<string, HostTensor>): InceptionV4Config {
  const fc = shapeOf(w, 'last_linear.weight');
  let blocks = DEFAULT_BLOCKS;
  if (w) {
    const found: Kind[] = [];
    for (let k = kindAt(w, 6); k; k = kindAt(w, 6 + found.length)) found.push(k);
    if (found.length) blocks = found;
  }
  return {
    inChans: shapeOf(w, 'features.0.conv.weight')?.[1] ?? 3,
    blocks,
    numClasses: fc ? fc[0]! : w?.has('features.0.conv.weight') ? 0 : 1000,
  };
}

export const inceptionV4Specs: ModelSpec[] = [
  {
    name: 'inception_v4',
    family: 'inception',
    // default tag tf_in1k: 299 px, crop 0.875, bicubic, Inception mean/std
    preprocess: { inputSize: [3, 299, 299], cropPct: 0.875, interpolation: 'bicubic', ...INCEPTION },
    build: (weights) => new InceptionV4(configFromWeights(weights), weights),
  },
];
