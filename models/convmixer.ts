import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { BatchNorm2d, Conv2d, Identity, Linear, ReLU, SelectAdaptivePool2d } from './layers.js';
import { Dropout, GELU } from './transformer-layers.js';
import { IMAGENET, countIndexed, shapeOf, type ModelSpec } from './spec.js';

// ConvMixer (Trockman & Kolter 2022, "Patches are all you need?") as timm 0.9.16's
// `ConvMixer`: a patch-size-strided conv -> act -> BN stem, then `depth` blocks of
// x + BN(act(depthwise k x k conv(x))) followed by a pointwise conv -> act -> BN, then
// global average pool and head. The activation is not in the weights: GELU for
// convmixer_1536_20, ReLU for convmixer_768_32.

type Act = 'gelu' | 'relu';
const activation = (a: Act): Module => (a === 'gelu' ? new GELU() : new ReLU());

/** timm's Residual: fn(x) + x (the add is exactly equivariant, not a layer). */
class Residual extends Module {
  readonly type = 'Residual';
  constructor(readonly fn: Sequential) {
    super();
  }
  forward(x: Dual): Dual {
    return ops.add(this.fn.forward(x), x);
  }
}

export interface ConvMixerConfig {
  dim: number;
  depth: number;
  kernel: number;
  patch: number;
  act: Act;
  inChans: number;
  /** 0: `head` is an Identity and the model returns pooled features */
  numClasses: number;
}

export class ConvMixer extends Module {
  readonly type = 'ConvMixer';
  readonly stem: Sequential;
  readonly blocks: Sequential;
  readonly pooling = new SelectAdaptivePool2d(true);
  readonly head_drop = new Dropout();
  readonly head: Module;
  constructor(readonly config: ConvMixerConfig) {
    super();
    const { dim, kernel, patch, act } = config;
    this.stem = new Sequential([new Conv2d(config.inChans, dim, patch, { stride: patch, bias: true }), activation(act), new BatchNorm2d(dim)]);
    // padding="same" with an odd kernel: k // 2 on every side
    const block = () =>
      new Sequential([
        new Residual(new Sequential([new Conv2d(dim, dim, kernel, { groups: dim, padding: kernel >> 1, bias: true }), activation(act), new BatchNorm2d(dim)])),
        new Conv2d(dim, dim, 1, { bias: true }),
        activation(act),
        new BatchNorm2d(dim),
      ]);
    this.blocks = new Sequential(Array.from({ length: config.depth }, block));
    this.head = config.numClasses > 0 ? new Linear(dim, config.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    const h = this.pooling.forward(this.blocks.forward(this.stem.forward(x)));
    return this.head.forward(this.head_drop.forward(h));
  }
}

function configFromWeights(d: ConvMixerConfig, w: Map<string, HostTensor>): ConvMixerConfig {
  const stem = shapeOf(w, 'stem.0.weight');
  const dw = shapeOf(w, 'blocks.0.0.fn.0.weight');
  const head = shapeOf(w, 'head.weight');
  return {
    ...d,
    dim: stem?.[0] ?? d.dim,
    inChans: stem?.[1] ?? d.inChans,
    patch: stem?.[2] ?? d.patch,
    depth: countIndexed(w, 'blocks.', '.1.weight') || d.depth,
    kernel: dw?.[2] ?? d.kernel,
    numClasses: head ? head[0]! : w.has('stem.0.weight') ? 0 : d.numClasses,
  };
}

const spec = (name: string, dim: number, depth: number, kernel: number, patch: number, act: Act): ModelSpec => ({
  name,
  family: 'convmixer',
  // default tags in1k: crop 0.96, bicubic, ImageNet mean/std
  preprocess: { inputSize: [3, 224, 224], cropPct: 0.96, interpolation: 'bicubic', ...IMAGENET },
  build: (weights) => {
    const d: ConvMixerConfig = { dim, depth, kernel, patch, act, inChans: 3, numClasses: 1000 };
    return new ConvMixer(weights ? configFromWeights(d, weights) : d);
  },
});

export const convmixerSpecs: ModelSpec[] = [
  spec('convmixer_1536_20', 1536, 20, 9, 7, 'gelu'),
  spec('convmixer_768_32', 768, 32, 7, 7, 'relu'),
  spec('convmixer_1024_20_ks9_p14', 1024, 20, 9, 14, 'gelu'),
];
