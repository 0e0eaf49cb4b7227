import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Sequential } from './module.js';
import { layerOp } from './hooks.js';
import { BatchNorm2d, Conv2d, Identity, Linear, MaxPool2d, ReLU, SelectAdaptivePool2d } from './layers.js';
import { Dropout } from './transformer-layers.js';
import { IMAGENET, preprocess, shapeOf, type ModelSpec } from './spec.js';

// VGG (Simonyan & Zisserman 2015) as timm 0.9.16's `VGG` (timm/models/vgg.py): `features`,
// an nn.Sequential of 3x3 convs (+ BatchNorm2d for the _bn variants) + ReLU with 2x2 max
// pools ('M'), then `pre_logits`, timm's ConvMlp (the classifier's two 4096-wide Linear
// layers as a 7x7 and a 1x1 conv), then a ClassifierHead (global average pool -> fc).

/** An entry of timm's cfg lists: a conv's output width, or 'M' for a 2x2 max pool. */
export type VggItem = number | 'M';

const CFGS: Record<string, VggItem[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

/** timm's ConvMlp (timm/models/vgg.py; ConvNeXt's is timm's Mlp): fc1 (kernel x kernel
 * conv, no padding) -> ReLU -> Dropout -> fc2 (1x1) -> ReLU. A map smaller than the kernel
 * is first average-pooled up to it (F.adaptive_avg_pool2d, functional in timm: a layer
 * here under `pre_logits.pool`); at 224 px the map is exactly 7x7 and the pool is skipped. */
export class VggConvMlp extends Module {
  readonly type = 'ConvMlp';
  readonly fc1: Conv2d;
  readonly act1 = new ReLU();
  readonly drop = new Dropout();
  readonly fc2: Conv2d;
  readonly act2 = new ReLU();
  constructor(
    inFeatures: number,
    hidden: number,
    outFeatures: number,
    readonly kernel: number,
  ) {
    super();
    this.fc1 = new Conv2d(inFeatures, hidden, kernel, { bias: true });
    this.fc2 = new Conv2d(hidden, outFeatures, 1, { bias: true });
  }
  forward(x: Dual): Dual {
    const [h, w] = x.primal.shape.slice(2) as [number, number];
    const k = this.kernel;
    if (h < k || w < k) {
      const size: [number, number] = [Math.max(k, h), Math.max(k, w)];
      x = layerOp(`${this.name}.pool`, 'adaptive_avg_pool2d', (t) => ops.adaptiveAvgPool2d(t, size), x);
    }
    return this.act2.forward(this.fc2.forward(this.drop.forward(this.act1.forward(this.fc1.forward(x)))));
  }
}

/** timm's ClassifierHead (pool_type 'avg', Linear fc): global_pool -> drop -> fc -> flatten
 * (an Identity when fc is a Linear). */
export class ClassifierHead extends Module {
  readonly type = 'ClassifierHead';
  readonly global_pool = new SelectAdaptivePool2d(true);
  readonly drop = new Dropout();
  readonly fc: Module;
  readonly flatten = new Identity();
  constructor(inFeatures: number, numClasses: number) {
    super();
    this.fc = numClasses > 0 ? new Linear(inFeatures, numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    return this.flatten.forward(this.fc.forward(this.drop.forward(this.global_pool.forward(x))));
  }
}

export interface VggConfig {
  /** timm's cfg list, read back from the weights' conv indices */
  cfg: VggItem[];
  /** BatchNorm2d after every conv (the _bn variants) */
  norm: boolean;
  inChans: number;
  /** ConvMlp: fc1's kernel and width (4096 in timm), fc2's width (num_features, 4096) */
  kernel: number;
  hidden: number;
  numFeatures: number;
  numClasses: number;
}

export class VGG extends Module {
  readonly type = 'VGG';
  readonly features: Sequential;
  readonly pre_logits: VggConvMlp;
  readonly head: ClassifierHead;
  constructor(readonly config: VggConfig) {
    super();
    const layers: Module[] = [];
    let ch = config.inChans;
    for (const v of config.cfg) {
      if (v === 'M') {
        layers.push(new MaxPool2d(2, 2));
        continue;
      }
      layers.push(new Conv2d(ch, v, 3, { padding: 1, bias: true }));
      if (config.norm) layers.push(new BatchNorm2d(v));
      layers.push(new ReLU());
      ch = v;
    }
    this.features = new Sequential(layers);
    this.pre_logits = new VggConvMlp(ch, config.hidden, config.numFeatures, config.kernel);
    this.head = new ClassifierHead(config.numFeatures, config.numClasses);
  }
  forward(x: Dual): Dual {
    return this.head.forward(this.pre_logits.forward(this.features.forward(x)));
  }
}

function defaultConfig(cfg: VggItem[], norm: boolean): VggConfig {
  return { cfg, norm, inChans: 3, kernel: 7, hidden: 4096, numFeatures: 4096, numClasses: 1000 };
}

/** The cfg list the weights spell: `features.<i>.weight` of rank 4 is a conv, followed by
 * BatchNorm2d (norm) and ReLU modules; every index skipped before the next conv is a max
 * pool. timm's cfgs all end with one pool after the last conv, which has no weights to
 * show it. Null when no conv is visible (the loader then lists what is missing). */
function cfgFromWeights(w: Map<string, HostTensor>, norm: boolean): VggItem[] | null {
  const convs = [...w.keys()]
    .map((k) => /^features\.(\d+)\.weight$/.exec(k))
    .filter((m): m is RegExpExecArray => !!m && w.get(m[0])!.shape.length === 4)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (!convs.length) return null;
  const out: VggItem[] = [];
  let i = 0;
  for (const c of convs) {
    for (; i < c; i++) out.push('M');
    out.push(w.get(`features.${c}.weight`)!.shape[0]!);
    i = c + (norm ? 3 : 2);
  }
  out.push('M');
  return out;
}

function configFromWeights(d: VggConfig, w: Map<string, HostTensor>): VggConfig {
  const fc1 = shapeOf(w, 'pre_logits.fc1.weight');
  return {
    ...d,
    cfg: cfgFromWeights(w, d.norm) ?? d.cfg,
    inChans: shapeOf(w, 'features.0.weight')?.[1] ?? d.inChans,
    kernel: fc1?.[2] ?? d.kernel,
    hidden: fc1?.[0] ?? d.hidden,
    numFeatures: shapeOf(w, 'pre_logits.fc2.weight')?.[0] ?? d.numFeatures,
    numClasses: shapeOf(w, 'head.fc.weight')?.[0] ?? (w.has('pre_logits.fc2.weight') ? 0 : d.numClasses),
  };
}

// default tags *.tv_in1k (torchvision's weights): crop 0.875, bilinear
export const vggSpecs: ModelSpec[] = Object.entries(CFGS).flatMap(([name, cfg]) =>
  [false, true].map(
    (norm): ModelSpec => ({
      name: norm ? `${name}_bn` : name,
      family: 'vgg',
      preprocess: preprocess(0.875, IMAGENET, 'bilinear'),
      build: (weights) => {
        const d = defaultConfig(cfg, norm);
        return new VGG(weights ? configFromWeights(d, weights) : d);
      },
    }),
  ),
);
