import { LeeError, ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module } from './module.js';
import { layerOp } from './hooks.js';
import { Identity, Linear, MaxPool2d, SelectAdaptivePool2d } from './layers.js';
import { Dropout } from './transformer-layers.js';
import { convNormActs, type ConvNormAct, type ConvNormActFactory } from './norm-act.js';
import { INCEPTION, shapeOf, type ModelSpec } from './spec.js';

// Inception v3 (Szegedy et al. 2016) as timm 0.9.16's `InceptionV3` (torchvision's
// Inception3): a stem of unpadded 3x3 convs and two max pools, then the Mixed blocks
// InceptionA x3 (35x35 at 299 px), B (reduction), C x4 (17x17, factorised 7x7 as 1x7 and
// 7x1), D (reduction), E x2 (8x8, split 1x3 / 3x1), then avg pool and fc. Every conv is
// a ConvNormAct (bias-free conv, BatchNormAct2d with eps 1e-3, ReLU). Widths are timm's
// where the weights do not say otherwise; a repeated block (Mixed_5d, 6c-6e, 7c: as wide
// out as in) that a state_dict leaves out entirely is an Identity, as in timm's model with
// that block replaced (the depth-reduced test fixture). The blocks' branch pools are
// functional in timm (F.avg_pool2d, F.max_pool2d), so they are named layers here:
// `<block>.avg_pool2d` / `<block>.max_pool2d`.

/** F.avg_pool2d(x, 3, stride 1, padding 1), zero padding counted (PyTorch's default). */
const branchAvgPool = (block: Module, x: Dual): Dual =>
  layerOp(`${block.name}.avg_pool2d`, 'avg_pool2d', (t) => ops.avgPool2d(t, { kernel: 3, stride: 1, padding: 1 }), x);

/** F.max_pool2d(x, 3, stride 2), no padding. */
const branchMaxPool = (block: Module, x: Dual): Dual =>
  layerOp(`${block.name}.max_pool2d`, 'max_pool2d', (t) => ops.maxPool2d(t, { kernel: 3, stride: 2 }), x);

/** The unpadded stems and reductions of timm's Inceptions need 75 x 75 px at least
 * (their 8x8 stage at 299 px is then 1x1): say so before any kernel runs. */
export function checkInceptionInput(x: Dual, model: string): void {
  const [, , h = 0, w = 0] = x.primal.shape;
  if (h < 75 || w < 75) throw new LeeError(`${model} needs an input of at least 75x75 px (timm's default is 299), got ${h}x${w}`);
}

const widthOf = (...convs: ConvNormAct[]) => convs.reduce((a, c) => a + c.outChannels, 0);
const chain = (x: Dual, ...convs: ConvNormAct[]) => convs.reduce((h, c) => c.forward(h), x);

/** 35x35: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 (`pool_features`). */
class InceptionA extends Module {
  readonly type = 'InceptionA';
  readonly branch1x1: ConvNormAct;
  readonly branch5x5_1: ConvNormAct;
  readonly branch5x5_2: ConvNormAct;
  readonly branch3x3dbl_1: ConvNormAct;
  readonly branch3x3dbl_2: ConvNormAct;
  readonly branch3x3dbl_3: ConvNormAct;
  readonly branch_pool: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, poolFeatures: number, conv: ConvNormActFactory) {
    super();
    this.branch1x1 = conv(`${p}.branch1x1`, inCh, 64, 1);
    this.branch5x5_1 = conv(`${p}.branch5x5_1`, inCh, 48, 1);
    this.branch5x5_2 = conv(`${p}.branch5x5_2`, this.branch5x5_1.outChannels, 64, 5, { padding: 2 });
    this.branch3x3dbl_1 = conv(`${p}.branch3x3dbl_1`, inCh, 64, 1);
    this.branch3x3dbl_2 = conv(`${p}.branch3x3dbl_2`, this.branch3x3dbl_1.outChannels, 96, 3, { padding: 1 });
    this.branch3x3dbl_3 = conv(`${p}.branch3x3dbl_3`, this.branch3x3dbl_2.outChannels, 96, 3, { padding: 1 });
    this.branch_pool = conv(`${p}.branch_pool`, inCh, poolFeatures, 1);
    this.outChannels = widthOf(this.branch1x1, this.branch5x5_2, this.branch3x3dbl_3, this.branch_pool);
  }
  forward(x: Dual): Dual {
    return ops.concat(
      [
        this.branch1x1.forward(x),
        chain(x, this.branch5x5_1, this.branch5x5_2),
        chain(x, this.branch3x3dbl_1, this.branch3x3dbl_2, this.branch3x3dbl_3),
        this.branch_pool.forward(branchAvgPool(this, x)),
      ],
      1,
    );
  }
}

/** Reduction to 17x17: 3x3 s2 | 1x1 -> 3x3 -> 3x3 s2 | max pool s2. */
class InceptionB extends Module {
  readonly type = 'InceptionB';
  readonly branch3x3: ConvNormAct;
  readonly branch3x3dbl_1: ConvNormAct;
  readonly branch3x3dbl_2: ConvNormAct;
  readonly branch3x3dbl_3: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch3x3 = conv(`${p}.branch3x3`, inCh, 384, 3, { stride: 2 });
    this.branch3x3dbl_1 = conv(`${p}.branch3x3dbl_1`, inCh, 64, 1);
    this.branch3x3dbl_2 = conv(`${p}.branch3x3dbl_2`, this.branch3x3dbl_1.outChannels, 96, 3, { padding: 1 });
    this.branch3x3dbl_3 = conv(`${p}.branch3x3dbl_3`, this.branch3x3dbl_2.outChannels, 96, 3, { stride: 2 });
    this.outChannels = widthOf(this.branch3x3, this.branch3x3dbl_3) + inCh;
  }
  forward(x: Dual): Dual {
    const b3 = this.branch3x3.forward(x);
    const dbl = chain(x, this.branch3x3dbl_1, this.branch3x3dbl_2, this.branch3x3dbl_3);
    return ops.concat([b3, dbl, branchMaxPool(this, x)], 1);
  }
}

/** 17x17 with the 7x7 factorised: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1, 1x7) x2 | pool -> 1x1. */
class InceptionC extends Module {
  readonly type = 'InceptionC';
  readonly branch1x1: ConvNormAct;
  readonly branch7x7_1: ConvNormAct;
  readonly branch7x7_2: ConvNormAct;
  readonly branch7x7_3: ConvNormAct;
  readonly branch7x7dbl_1: ConvNormAct;
  readonly branch7x7dbl_2: ConvNormAct;
  readonly branch7x7dbl_3: ConvNormAct;
  readonly branch7x7dbl_4: ConvNormAct;
  readonly branch7x7dbl_5: ConvNormAct;
  readonly branch_pool: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, c7: number, conv: ConvNormActFactory) {
    super();
    const row = { padding: [0, 3] as [number, number] };
    const col = { padding: [3, 0] as [number, number] };
    this.branch1x1 = conv(`${p}.branch1x1`, inCh, 192, 1);
    this.branch7x7_1 = conv(`${p}.branch7x7_1`, inCh, c7, 1);
    this.branch7x7_2 = conv(`${p}.branch7x7_2`, this.branch7x7_1.outChannels, c7, [1, 7], row);
    this.branch7x7_3 = conv(`${p}.branch7x7_3`, this.branch7x7_2.outChannels, 192, [7, 1], col);
    this.branch7x7dbl_1 = conv(`${p}.branch7x7dbl_1`, inCh, c7, 1);
    this.branch7x7dbl_2 = conv(`${p}.branch7x7dbl_2`, this.branch7x7dbl_1.outChannels, c7, [7, 1], col);
    this.branch7x7dbl_3 = conv(`${p}.branch7x7dbl_3`, this.branch7x7dbl_2.outChannels, c7, [1, 7], row);
    this.branch7x7dbl_4 = conv(`${p}.branch7x7dbl_4`, this.branch7x7dbl_3.outChannels, c7, [7, 1], col);
    this.branch7x7dbl_5 = conv(`${p}.branch7x7dbl_5`, this.branch7x7dbl_4.outChannels, 192, [1, 7], row);
    this.branch_pool = conv(`${p}.branch_pool`, inCh, 192, 1);
    this.outChannels = widthOf(this.branch1x1, this.branch7x7_3, this.branch7x7dbl_5, this.branch_pool);
  }
  forward(x: Dual): Dual {
    return ops.concat(
      [
        this.branch1x1.forward(x),
        chain(x, this.branch7x7_1, this.branch7x7_2, this.branch7x7_3),
        chain(x, this.branch7x7dbl_1, this.branch7x7dbl_2, this.branch7x7dbl_3, this.branch7x7dbl_4, this.branch7x7dbl_5),
        this.branch_pool.forward(branchAvgPool(this, x)),
      ],
      1,
    );
  }
}

/** Reduction to 8x8: 1x1 -> 3x3 s2 | 1x1 -> 1x7 -> 7x1 -> 3x3 s2 | max pool s2. */
class InceptionD extends Module {
  readonly type = 'InceptionD';
  readonly branch3x3_1: ConvNormAct;
  readonly branch3x3_2: ConvNormAct;
  readonly branch7x7x3_1: ConvNormAct;
  readonly branch7x7x3_2: ConvNormAct;
  readonly branch7x7x3_3: ConvNormAct;
  readonly branch7x7x3_4: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    this.branch3x3_1 = conv(`${p}.branch3x3_1`, inCh, 192, 1);
    this.branch3x3_2 = conv(`${p}.branch3x3_2`, this.branch3x3_1.outChannels, 320, 3, { stride: 2 });
    this.branch7x7x3_1 = conv(`${p}.branch7x7x3_1`, inCh, 192, 1);
    this.branch7x7x3_2 = conv(`${p}.branch7x7x3_2`, this.branch7x7x3_1.outChannels, 192, [1, 7], { padding: [0, 3] });
    this.branch7x7x3_3 = conv(`${p}.branch7x7x3_3`, this.branch7x7x3_2.outChannels, 192, [7, 1], { padding: [3, 0] });
    this.branch7x7x3_4 = conv(`${p}.branch7x7x3_4`, this.branch7x7x3_3.outChannels, 192, 3, { stride: 2 });
    this.outChannels = widthOf(this.branch3x3_2, this.branch7x7x3_4) + inCh;
  }
  forward(x: Dual): Dual {
    const b3 = chain(x, this.branch3x3_1, this.branch3x3_2);
    const b7 = chain(x, this.branch7x7x3_1, this.branch7x7x3_2, this.branch7x7x3_3, this.branch7x7x3_4);
    return ops.concat([b3, b7, branchMaxPool(this, x)], 1);
  }
}

/** 8x8, widened: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1. */
class InceptionE extends Module {
  readonly type = 'InceptionE';
  readonly branch1x1: ConvNormAct;
  readonly branch3x3_1: ConvNormAct;
  readonly branch3x3_2a: ConvNormAct;
  readonly branch3x3_2b: ConvNormAct;
  readonly branch3x3dbl_1: ConvNormAct;
  readonly branch3x3dbl_2: ConvNormAct;
  readonly branch3x3dbl_3a: ConvNormAct;
  readonly branch3x3dbl_3b: ConvNormAct;
  readonly branch_pool: ConvNormAct;
  readonly outChannels: number;
  constructor(p: string, inCh: number, conv: ConvNormActFactory) {
    super();
    const row = { padding: [0, 1] as [number, number] };
    const col = { padding: [1, 0] as [number, number] };
    this.branch1x1 = conv(`${p}.branch1x1`, inCh, 320, 1);
    this.branch3x3_1 = conv(`${p}.branch3x3_1`, inCh, 384, 1);
    const w3 = this.branch3x3_1.outChannels;
    this.branch3x3_2a = conv(`${p}.branch3x3_2a`, w3, 384, [1, 3], row);
    this.branch3x3_2b = conv(`${p}.branch3x3_2b`, w3, 384, [3, 1], col);
    this.branch3x3dbl_1 = conv(`${p}.branch3x3dbl_1`, inCh, 448, 1);
    this.branch3x3dbl_2 = conv(`${p}.branch3x3dbl_2`, this.branch3x3dbl_1.outChannels, 384, 3, { padding: 1 });
    const wd = this.branch3x3dbl_2.outChannels;
    this.branch3x3dbl_3a = conv(`${p}.branch3x3dbl_3a`, wd, 384, [1, 3], row);
    this.branch3x3dbl_3b = conv(`${p}.branch3x3dbl_3b`, wd, 384, [3, 1], col);
    this.branch_pool = conv(`${p}.branch_pool`, inCh, 192, 1);
    this.outChannels = widthOf(this.branch1x1, this.branch3x3_2a, this.branch3x3_2b, this.branch3x3dbl_3a, this.branch3x3dbl_3b, this.branch_pool);
  }
  forward(x: Dual): Dual {
    const b1 = this.branch1x1.forward(x);
    const h3 = this.branch3x3_1.forward(x);
    const b3 = ops.concat([this.branch3x3_2a.forward(h3), this.branch3x3_2b.forward(h3)], 1);
    const hd = chain(x, this.branch3x3dbl_1, this.branch3x3dbl_2);
    const bd = ops.concat([this.branch3x3dbl_3a.forward(hd), this.branch3x3dbl_3b.forward(hd)], 1);
    return ops.concat([b1, b3, bd, this.branch_pool.forward(branchAvgPool(this, x))], 1);
  }
}

/** The auxiliary classifier on Mixed_6e. Built only where the weights carry it
 * (torchvision's tv_in1k checkpoint); eval-mode timm never calls it (aux_logits False). */
class InceptionAux extends Module {
  readonly type = 'InceptionAux';
  readonly conv0: ConvNormAct;
  readonly conv1: ConvNormAct;
  readonly fc: Linear;
  constructor(inCh: number, numClasses: number, conv: ConvNormActFactory) {
    super();
    this.conv0 = conv('AuxLogits.conv0', inCh, 128, 1);
    this.conv1 = conv('AuxLogits.conv1', this.conv0.outChannels, 768, 5);
    this.fc = new Linear(this.conv1.outChannels, numClasses);
  }
  forward(): Dual {
    throw new Error('InceptionAux is not part of the eval forward');
  }
}

export interface InceptionV3Config {
  inChans: number;
  /** 0: `fc` is an Identity and the model returns pooled features */
  numClasses: number;
  /** the state_dict holds AuxLogits.* (kept, never called) */
  auxLogits: boolean;
}

export class InceptionV3 extends Module {
  readonly type = 'InceptionV3';
  readonly Conv2d_1a_3x3: ConvNormAct;
  readonly Conv2d_2a_3x3: ConvNormAct;
  readonly Conv2d_2b_3x3: ConvNormAct;
  readonly Pool1 = new MaxPool2d(3, 2);
  readonly Conv2d_3b_1x1: ConvNormAct;
  readonly Conv2d_4a_3x3: ConvNormAct;
  readonly Pool2 = new MaxPool2d(3, 2);
  readonly Mixed_5b: InceptionA;
  readonly Mixed_5c: InceptionA;
  readonly Mixed_5d: InceptionA | Identity;
  readonly Mixed_6a: InceptionB;
  readonly Mixed_6b: InceptionC;
  readonly Mixed_6c: InceptionC | Identity;
  readonly Mixed_6d: InceptionC | Identity;
  readonly Mixed_6e: InceptionC | Identity;
  readonly AuxLogits?: InceptionAux;
  readonly Mixed_7a: InceptionD;
  readonly Mixed_7b: InceptionE;
  readonly Mixed_7c: InceptionE | Identity;
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly head_drop = new Dropout();
  readonly fc: Module;

  constructor(
    readonly config: InceptionV3Config,
    weights?: Map<string, HostTensor>,
  ) {
    super();
    const conv = convNormActs(weights, { eps: 1e-3 });
    this.Conv2d_1a_3x3 = conv('Conv2d_1a_3x3', config.inChans, 32, 3, { stride: 2 });
    this.Conv2d_2a_3x3 = conv('Conv2d_2a_3x3', this.Conv2d_1a_3x3.outChannels, 32, 3);
    this.Conv2d_2b_3x3 = conv('Conv2d_2b_3x3', this.Conv2d_2a_3x3.outChannels, 64, 3, { padding: 1 });
    this.Conv2d_3b_1x1 = conv('Conv2d_3b_1x1', this.Conv2d_2b_3x3.outChannels, 80, 1);
    this.Conv2d_4a_3x3 = conv('Conv2d_4a_3x3', this.Conv2d_3b_1x1.outChannels, 192, 3);
    // a repeated block (as wide out as in) that the weights leave out is an Identity, as
    // in timm's model with that block replaced (the depth-reduced test fixture)
    const has = (p: string) => !weights || [...weights.keys()].some((k) => k.startsWith(`${p}.`));
    const repeat = <B extends Module>(p: string, make: () => B): B | Identity => (has(p) ? make() : new Identity());
    const width = (b: { outChannels: number } | Identity, inCh: number) => (b instanceof Identity ? inCh : b.outChannels);
    // pool_features of the pool branch: timm's numbers, or the weights'
    this.Mixed_5b = new InceptionA('Mixed_5b', this.Conv2d_4a_3x3.outChannels, 32, conv);
    this.Mixed_5c = new InceptionA('Mixed_5c', this.Mixed_5b.outChannels, 64, conv);
    let ch = this.Mixed_5c.outChannels;
    this.Mixed_5d = repeat('Mixed_5d', () => new InceptionA('Mixed_5d', ch, 64, conv));
    this.Mixed_6a = new InceptionB('Mixed_6a', width(this.Mixed_5d, ch), conv);
    const c7 = (p: string, d: number) => shapeOf(weights, `${p}.branch7x7_1.conv.weight`)?.[0] ?? d;
    this.Mixed_6b = new InceptionC('Mixed_6b', this.Mixed_6a.outChannels, c7('Mixed_6b', 128), conv);
    ch = this.Mixed_6b.outChannels;
    this.Mixed_6c = repeat('Mixed_6c', () => new InceptionC('Mixed_6c', ch, c7('Mixed_6c', 160), conv));
    ch = width(this.Mixed_6c, ch);
    this.Mixed_6d = repeat('Mixed_6d', () => new InceptionC('Mixed_6d', ch, c7('Mixed_6d', 160), conv));
    ch = width(this.Mixed_6d, ch);
    this.Mixed_6e = repeat('Mixed_6e', () => new InceptionC('Mixed_6e', ch, c7('Mixed_6e', 192), conv));
    ch = width(this.Mixed_6e, ch);
    if (config.auxLogits) this.AuxLogits = new InceptionAux(ch, config.numClasses, conv);
    this.Mixed_7a = new InceptionD('Mixed_7a', ch, conv);
    this.Mixed_7b = new InceptionE('Mixed_7b', this.Mixed_7a.outChannels, conv);
    ch = this.Mixed_7b.outChannels;
    this.Mixed_7c = repeat('Mixed_7c', () => new InceptionE('Mixed_7c', ch, conv));
    this.fc = config.numClasses > 0 ? new Linear(width(this.Mixed_7c, ch), config.numClasses) : new Identity();
  }

  forward(x: Dual): Dual {
    checkInceptionInput(x, 'Inception v3');
    const stem = [this.Conv2d_1a_3x3, this.Conv2d_2a_3x3, this.Conv2d_2b_3x3, this.Pool1, this.Conv2d_3b_1x1, this.Conv2d_4a_3x3, this.Pool2];
    const mixed = [this.Mixed_5b, this.Mixed_5c, this.Mixed_5d, this.Mixed_6a, this.Mixed_6b, this.Mixed_6c, this.Mixed_6d, this.Mixed_6e, this.Mixed_7a, this.Mixed_7b, this.Mixed_7c];
    let h = x;
    for (const m of [...stem, ...mixed]) h = m.forward(h);
    return this.fc.forward(this.head_drop.forward(this.global_pool.forward(h)));
  }
}

function configFromWeights(w?: Map<string, HostTensor>): InceptionV3Config {
  const fc = shapeOf(w, 'fc.weight');
  return {
    inChans: shapeOf(w, 'Conv2d_1a_3x3.conv.weight')?.[1] ?? 3,
    // a state_dict saved with num_classes=0 has the last block but no fc
    numClasses: fc ? fc[0]! : w?.has('Mixed_7c.branch_pool.conv.weight') ? 0 : 1000,
    auxLogits: !!w?.has('AuxLogits.fc.weight'),
  };
}

export const inceptionV3Specs: ModelSpec[] = [
  {
    name: 'inception_v3',
    family: 'inception',
    // default tag tv_in1k: 299 px, crop 0.875, bicubic, Inception mean/std
    preprocess: { inputSize: [3, 299, 299], cropPct: 0.875, interpolation: 'bicubic', ...INCEPTION },
    build: (weights) => new InceptionV3(configFromWeights(weights), weights),
  },
];
