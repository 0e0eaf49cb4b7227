import { LeeError, ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, Sequential, param } from './module.js';
import { layerOp } from './hooks.js';
import { Identity, Linear } from './layers.js';
import { Dropout, Mlp, PatchEmbed } from './transformer-layers.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec } from './spec.js';

// ResMLP (Touvron et al. 2021) as timm 0.9.16 builds it: its `MlpMixer` with
// block_layer=ResBlock and norm_layer=Affine. Patches -> blocks that mix tokens with
// ONE linear map over the token axis and channels with a 4x MLP, each branch behind an
// Affine "norm" and scaled per channel (layer scale ls1 / ls2) -> Affine -> mean over
// tokens -> head. The distilled checkpoints (resmlp_*_distilled_224) are the same
// network with other weights (tags fb_distilled_in1k).

/** timm's Affine: beta + alpha x with alpha, beta [1, 1, D] over the last axis, one
 * affine map per token (so it commutes with any resampling of the token grid). */
export class Affine extends Module {
  readonly type = 'Affine';
  readonly alpha: Param;
  readonly beta: Param;
  constructor(dim: number) {
    super();
    this.alpha = param(1, 1, dim);
    this.beta = param(1, 1, dim);
  }
  override get affineFeatureAxis(): -1 {
    return -1;
  }
  forward(x: Dual): Dual {
    return ops.add(ops.mul(x, this.alpha.value), this.beta.value);
  }
}

/** x = x + ls1 * linear_tokens(norm1(x)^T)^T; x = x + ls2 * mlp_channels(norm2(x)). The
 * token map runs on [B, D, N]: tokens on the last axis in and out. */
class ResBlock extends Module {
  readonly type = 'ResBlock';
  readonly norm1: Affine;
  readonly linear_tokens: Linear;
  /** one module that timm calls on both residual branches */
  readonly drop_path = new Identity();
  readonly norm2: Affine;
  readonly mlp_channels: Mlp;
  readonly ls1: Param;
  readonly ls2: Param;
  constructor(dim: number, tokens: number, hidden: number) {
    super();
    this.norm1 = new Affine(dim);
    this.linear_tokens = new Linear(tokens, tokens);
    this.linear_tokens.layouts = { input: 'tokens_last', output: 'tokens_last' };
    this.norm2 = new Affine(dim);
    this.mlp_channels = new Mlp(dim, hidden);
    this.ls1 = param(dim);
    this.ls2 = param(dim);
  }
  forward(x: Dual): Dual {
    const mixed = ops.transpose(this.linear_tokens.forward(ops.transpose(this.norm1.forward(x), 1, 2)), 1, 2);
    x = ops.add(x, this.drop_path.forward(ops.mul(mixed, this.ls1.value)));
    return ops.add(x, this.drop_path.forward(ops.mul(this.mlp_channels.forward(this.norm2.forward(x)), this.ls2.value)));
  }
}

export interface ResMlpConfig {
  patch: number;
  dim: number;
  depth: number;
  /** patches N = (H / patch) (W / patch): linear_tokens fixes the resolution */
  tokens: number;
  hidden: number;
  /** 0: `head` is an Identity and the model returns pooled features */
  numClasses: number;
}

/** timm's `MlpMixer` built with ResBlock and Affine (timm's class name either way). */
export class ResMlp extends Module {
  readonly type = 'MlpMixer';
  readonly stem: PatchEmbed;
  readonly blocks: Sequential;
  readonly norm: Affine;
  readonly head_drop = new Dropout();
  readonly head: Module;
  constructor(readonly config: ResMlpConfig) {
    super();
    const c = config;
    this.stem = new PatchEmbed(3, c.dim, c.patch);
    this.blocks = new Sequential(Array.from({ length: c.depth }, () => new ResBlock(c.dim, c.tokens, c.hidden)));
    this.norm = new Affine(c.dim);
    this.head = c.numClasses > 0 ? new Linear(c.dim, c.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    const { patch, tokens } = this.config;
    const [, , height = 0, width = 0] = x.primal.shape;
    const n = Math.floor(height / patch) * Math.floor(width / patch);
    if (n !== tokens) {
      const side = Math.round(Math.sqrt(tokens)) * patch;
      throw new LeeError(
        `this ResMLP's linear_tokens weights expect ${tokens} patches of ${patch} px (a ${side}x${side} input), ` +
          `but a [${x.primal.shape.join(', ')}] input gives ${n}`,
      );
    }
    const h = this.norm.forward(this.blocks.forward(this.stem.forward(x)));
    // the mean over tokens is not a module in timm, and not equivariant: a named layer
    const pooled = layerOp('global_pool', 'token_mean', (t) => ops.mean(t, [1]), h);
    return this.head.forward(this.head_drop.forward(pooled));
  }
}

function configFromWeights(d: ResMlpConfig, w: Map<string, HostTensor>): ResMlpConfig {
  const proj = shapeOf(w, 'stem.proj.weight');
  const tok = shapeOf(w, 'blocks.0.linear_tokens.weight');
  const fc1 = shapeOf(w, 'blocks.0.mlp_channels.fc1.weight');
  const head = shapeOf(w, 'head.weight');
  return {
    patch: proj?.[2] ?? d.patch,
    dim: proj?.[0] ?? d.dim,
    depth: countIndexed(w, 'blocks.', '.linear_tokens.weight') || d.depth,
    tokens: tok?.[0] ?? d.tokens,
    hidden: fc1?.[0] ?? d.hidden,
    numClasses: head ? head[0]! : w.has('norm.alpha') ? 0 : d.numClasses,
  };
}

const spec = (name: string, patch: number, dim: number, depth: number): ModelSpec => ({
  name,
  family: 'resmlp',
  // default tags fb_in1k: crop 0.875, bicubic, ImageNet mean/std
  preprocess: preprocess(0.875, IMAGENET),
  build: (weights) => {
    const d: ResMlpConfig = { patch, dim, depth, tokens: (224 / patch) ** 2, hidden: 4 * dim, numClasses: 1000 };
    return new ResMlp(weights ? configFromWeights(d, weights) : d);
  },
});

export const resmlpSpecs: ModelSpec[] = [
  spec('resmlp_12_224', 16, 384, 12),
  spec('resmlp_24_224', 16, 384, 24),
  spec('resmlp_36_224', 16, 384, 36),
  spec('resmlp_big_24_224', 8, 768, 24),
];
