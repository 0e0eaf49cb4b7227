import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, Sequential, param } from './module.js';
import { Conv2d, Flatten, Identity, Linear, SelectAdaptivePool2d } from './layers.js';
import { Dropout, GELU, LayerNorm, Mlp } from './transformer-layers.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec } from './spec.js';

// ConvNeXt (Liu et al. 2022) as timm 0.9.16's `ConvNeXt`: a 4x4/4 patchify stem, four
// stages of blocks (depthwise 7x7 -> LayerNorm -> 4x MLP -> layer scale -> residual)
// joined by LayerNorm2d + 2x2/2 convs, then avg pool -> LayerNorm2d -> fc. Every
// LayerNorm has eps 1e-6. Identity / Dropout fields are timm's eval-mode no-op
// modules, kept so the module tree (and its names) is timm's.

/** timm's LayerNorm2d: per position, over the C of NCHW. */
class LayerNorm2d extends LayerNorm {
  override readonly type = 'LayerNorm2d';
  override forward(x: Dual): Dual {
    return ops.layerNorm(x, this.weight.value, this.bias.value, { eps: this.eps, axis: 'channels' });
  }
}

/** timm's Mlp with use_conv=True (the conv_mlp variant): the same fc1 -> GELU -> fc2
 * as 1x1 convs on NCHW, weights [4C, C, 1, 1] / [C, 4C, 1, 1]. */
class ConvMlp extends Module {
  /** timm's class is `Mlp` either way */
  readonly type = 'Mlp';
  readonly fc1: Conv2d;
  readonly act = new GELU();
  readonly drop1 = new Dropout();
  readonly norm = new Identity();
  readonly fc2: Conv2d;
  readonly drop2 = new Dropout();
  constructor(dim: number, hidden: number) {
    super();
    this.fc1 = new Conv2d(dim, hidden, 1, { bias: true });
    this.fc2 = new Conv2d(hidden, dim, 1, { bias: true });
  }
  forward(x: Dual): Dual {
    const h = this.norm.forward(this.drop1.forward(this.act.forward(this.fc1.forward(x))));
    return this.drop2.forward(this.fc2.forward(h));
  }
}

/** x + gamma * mlp(norm(conv_dw(x))), gamma per channel. Without conv_mlp the norm and
 * MLP run channels-last: permute NCHW -> NHWC and back, as timm does. */
class ConvNeXtBlock extends Module {
  readonly type = 'ConvNeXtBlock';
  /** layer scale [C] (first in timm's state_dict order); absent when ls_init_value=None */
  readonly gamma?: Param;
  readonly conv_dw: Conv2d;
  readonly norm: LayerNorm;
  readonly mlp: Mlp | ConvMlp;
  readonly shortcut = new Identity();
  readonly drop_path = new Identity();
  constructor(
    dim: number,
    hidden: number,
    readonly convMlp: boolean,
    layerScale: boolean,
  ) {
    super();
    if (layerScale) this.gamma = param(dim);
    this.conv_dw = new Conv2d(dim, dim, 7, { padding: 3, groups: dim, bias: true });
    this.norm = convMlp ? new LayerNorm2d(dim) : new LayerNorm(dim);
    this.mlp = convMlp ? new ConvMlp(dim, hidden) : new Mlp(dim, hidden);
    if (!convMlp) {
      const mlp = this.mlp as Mlp;
      for (const m of [this.norm, mlp.fc1, mlp.act, mlp.drop1, mlp.norm, mlp.fc2, mlp.drop2]) m.layouts = { input: 'bhwc', output: 'bhwc' };
    }
  }
  forward(x: Dual): Dual {
    let y = this.conv_dw.forward(x);
    if (this.convMlp) {
      y = this.mlp.forward(this.norm.forward(y));
    } else {
      y = ops.permute(this.mlp.forward(this.norm.forward(ops.permute(y, [0, 2, 3, 1]))), [0, 3, 1, 2]);
    }
    if (this.gamma) y = ops.mul(y, ops.reshape(this.gamma.value, [-1, 1, 1]));
    return ops.add(this.drop_path.forward(y), this.shortcut.forward(x));
  }
}

/** Stage 0 keeps the stem's resolution (`downsample` Identity); later stages start
 * with `downsample` = LayerNorm2d(in) -> Conv2d(in, out, 2, stride 2). */
class ConvNeXtStage extends Module {
  readonly type = 'ConvNeXtStage';
  readonly downsample: Module;
  readonly blocks: ConvNeXtBlock[];
  constructor(inChans: number, dim: number, stride: number, depth: number, hidden: number, convMlp: boolean, layerScale: boolean) {
    super();
    this.downsample =
      stride > 1 ? new Sequential([new LayerNorm2d(inChans), new Conv2d(inChans, dim, 2, { stride: 2, bias: true })]) : new Identity();
    this.blocks = Array.from({ length: depth }, () => new ConvNeXtBlock(dim, hidden, convMlp, layerScale));
  }
  forward(x: Dual): Dual {
    x = this.downsample.forward(x);
    for (const b of this.blocks) x = b.forward(x);
    return x;
  }
}

/** timm's NormMlpClassifierHead (head_norm_first False): global avg pool keeping
 * [B, C, 1, 1] -> LayerNorm2d -> flatten -> fc. */
class NormMlpClassifierHead extends Module {
  readonly type = 'NormMlpClassifierHead';
  readonly global_pool = new SelectAdaptivePool2d(false);
  readonly norm: LayerNorm2d;
  readonly flatten = new Flatten(1);
  readonly pre_logits = new Identity();
  readonly drop = new Dropout();
  readonly fc: Module;
  constructor(dim: number, numClasses: number) {
    super();
    this.norm = new LayerNorm2d(dim);
    this.fc = numClasses > 0 ? new Linear(dim, numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    const h = this.pre_logits.forward(this.flatten.forward(this.norm.forward(this.global_pool.forward(x))));
    return this.fc.forward(this.drop.forward(h));
  }
}

export interface ConvNeXtConfig {
  depths: number[];
  dims: number[];
  /** hidden width of each stage's MLP (4 dims[i] in timm) */
  hidden: number[];
  /** 1x1-conv MLP with LayerNorm2d (atto..nano) instead of channels-last Linear */
  convMlp: boolean;
  layerScale: boolean;
  /** 0: `head.fc` is an Identity and the model returns pooled, normed features */
  numClasses: number;
}

export class ConvNeXt extends Module {
  readonly type = 'ConvNeXt';
  readonly stem: Sequential;
  readonly stages: ConvNeXtStage[];
  readonly norm_pre = new Identity();
  readonly head: NormMlpClassifierHead;
  constructor(readonly config: ConvNeXtConfig) {
    super();
    const { depths, dims, hidden, convMlp, layerScale } = config;
    this.stem = new Sequential([new Conv2d(3, dims[0]!, 4, { stride: 4, bias: true }), new LayerNorm2d(dims[0]!)]);
    this.stages = depths.map(
      (depth, i) => new ConvNeXtStage(dims[Math.max(i - 1, 0)]!, dims[i]!, i === 0 ? 1 : 2, depth, hidden[i]!, convMlp, layerScale),
    );
    this.head = new NormMlpClassifierHead(dims[dims.length - 1]!, config.numClasses);
  }
  forward(x: Dual): Dual {
    let h = this.stem.forward(x);
    for (const s of this.stages) h = s.forward(h);
    return this.head.forward(this.norm_pre.forward(h));
  }
}

function defaultConfig(depths: number[], dims: number[], convMlp: boolean): ConvNeXtConfig {
  return { depths, dims, hidden: dims.map((d) => 4 * d), convMlp, layerScale: true, numClasses: 1000 };
}

/** Depths, widths, conv_mlp and classes from the weights where present, else the
 * named default; loadWeights then checks every key and shape against the result. */
function configFromWeights(d: ConvNeXtConfig, w: Map<string, HostTensor>): ConvNeXtConfig {
  const nStages = countIndexed(w, 'stages.', '.blocks.0.conv_dw.weight') || d.depths.length;
  const first = (i: number) => `stages.${i}.blocks.0`;
  const stages = [...Array(nStages).keys()];
  const fc1 = shapeOf(w, `${first(0)}.mlp.fc1.weight`);
  const fc = shapeOf(w, 'head.fc.weight');
  return {
    depths: stages.map((i) => countIndexed(w, `stages.${i}.blocks.`, '.conv_dw.weight') || d.depths[i]!),
    dims: stages.map((i) => shapeOf(w, `${first(i)}.conv_dw.weight`)?.[0] ?? d.dims[i]!),
    hidden: stages.map((i) => shapeOf(w, `${first(i)}.mlp.fc1.weight`)?.[0] ?? d.hidden[i]!),
    // the 1x1-conv MLP stores fc1 as [4C, C, 1, 1], the Linear one as [4C, C]
    convMlp: fc1 ? fc1.length === 4 : d.convMlp,
    layerScale: fc1 ? w.has(`${first(0)}.gamma`) : d.layerScale,
    // a state_dict saved with num_classes=0 has a head norm but no fc
    numClasses: fc ? fc[0]! : w.has('head.norm.weight') ? 0 : d.numClasses,
  };
}

const spec = (name: string, cropPct: number, depths: number[], dims: number[], convMlp: boolean): ModelSpec => ({
  name,
  family: 'convnext',
  preprocess: preprocess(cropPct, IMAGENET),
  build: (weights) => {
    const d = defaultConfig(depths, dims, convMlp);
    return new ConvNeXt(weights ? configFromWeights(d, weights) : d);
  },
});

export const convnextSpecs: ModelSpec[] = [
  spec('convnext_atto', 0.875, [2, 2, 6, 2], [40, 80, 160, 320], true),
  spec('convnext_femto', 0.875, [2, 2, 6, 2], [48, 96, 192, 384], true),
  spec('convnext_pico', 0.875, [2, 2, 6, 2], [64, 128, 256, 512], true),
  spec('convnext_nano', 0.95, [2, 2, 8, 2], [80, 160, 320, 640], true),
  spec('convnext_tiny', 0.95, [3, 3, 9, 3], [96, 192, 384, 768], false),
  spec('convnext_small', 0.95, [3, 3, 27, 3], [96, 192, 384, 768], false),
  spec('convnext_base', 0.875, [3, 3, 27, 3], [128, 256, 512, 1024], false),
  spec('convnext_large', 0.875, [3, 3, 27, 3], [192, 384, 768, 1536], false),
  spec('convnext_xlarge', 0.875, [3, 3, 27, 3], [256, 512, 1024, 2048], false),
];
