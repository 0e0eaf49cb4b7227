import { LeeError, ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module } from './module.js';
import { layerOp } from './hooks.js';
import { Identity, Linear } from './layers.js';
import { Dropout, LayerNorm, Mlp, PatchEmbed } from './transformer-layers.js';
import { INCEPTION, countIndexed, preprocess, shapeOf, type ModelSpec } from './spec.js';

// MLP-Mixer (Tolstikhin et al. 2021) as timm 0.9.16's `MlpMixer`: patches -> blocks
// that alternately mix tokens and channels with two-layer MLPs -> norm -> mean over
// tokens -> head. Every LayerNorm has eps 1e-6. Identity / Dropout fields are timm's
// eval-mode no-op modules, kept so the module tree (and its names) is timm's.

/** x = x + mlp_tokens(norm1(x)^T)^T; x = x + mlp_channels(norm2(x)). The token MLP
 * runs on [B, D, N], so its fc1 maps N tokens to int(0.5 D) hidden units. */
class MixerBlock extends Module {
  readonly type = 'MixerBlock';
  readonly norm1: LayerNorm;
  readonly mlp_tokens: Mlp;
  /** one module that timm calls on both residual branches */
  readonly drop_path = new Identity();
  readonly norm2: LayerNorm;
  readonly mlp_channels: Mlp;
  constructor(dim: number, tokens: number, tokenHidden: number, channelHidden: number) {
    super();
    this.norm1 = new LayerNorm(dim);
    this.mlp_tokens = new Mlp(tokens, tokenHidden);
    // tokens on the last axis in and out; the hidden units are not a grid (even where
    // their count is a square)
    const t = this.mlp_tokens;
    t.fc1.layouts = { input: 'tokens_last', output: 'none' };
    for (const m of [t.act, t.drop1, t.norm]) m.layouts = { input: 'none', output: 'none' };
    t.fc2.layouts = { input: 'none', output: 'tokens_last' };
    t.drop2.layouts = { input: 'tokens_last', output: 'tokens_last' };
    this.norm2 = new LayerNorm(dim);
    this.mlp_channels = new Mlp(dim, channelHidden);
  }
  forward(x: Dual): Dual {
    const mixed = ops.transpose(this.mlp_tokens.forward(ops.transpose(this.norm1.forward(x), 1, 2)), 1, 2);
    x = ops.add(x, this.drop_path.forward(mixed));
    return ops.add(x, this.drop_path.forward(this.mlp_channels.forward(this.norm2.forward(x))));
  }
}

export interface MixerConfig {
  patch: number;
  dim: number;
  depth: number;
  /** number of patches N = (H / patch) (W / patch): the token MLPs fix the resolution */
  tokens: number;
  tokenHidden: number;
  channelHidden: number;
  /** 0: `head` is an Identity and the model returns pooled features (timm's num_classes=0) */
  numClasses: number;
}

export class MlpMixer extends Module {
  readonly type = 'MlpMixer';
  readonly stem: PatchEmbed;
  readonly blocks: MixerBlock[];
  readonly norm: LayerNorm;
  readonly head_drop = new Dropout();
  readonly head: Module;
  constructor(readonly config: MixerConfig) {
    super();
    const c = config;
    this.stem = new PatchEmbed(3, c.dim, c.patch);
    this.blocks = Array.from({ length: c.depth }, () => new MixerBlock(c.dim, c.tokens, c.tokenHidden, c.channelHidden));
    this.norm = new LayerNorm(c.dim);
    this.head = c.numClasses > 0 ? new Linear(c.dim, c.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    // the token MLPs fix N, hence the input resolution: say so before any kernel runs
    const { patch, tokens } = this.config;
    const [, , height = 0, width = 0] = x.primal.shape;
    const n = Math.floor(height / patch) * Math.floor(width / patch);
    if (n !== tokens) {
      const side = Math.round(Math.sqrt(tokens)) * patch;
      throw new LeeError(
        `this Mixer's token-mixing weights expect ${tokens} patches of ${patch} px (a ${side}x${side} input), ` +
          `but a [${x.primal.shape.join(', ')}] input gives ${n}`,
      );
    }
    let h = this.stem.forward(x);
    for (const b of this.blocks) h = b.forward(h);
    // the mean over tokens is not a module in timm, and not equivariant: a named layer
    h = layerOp('global_pool', 'token_mean', (t) => ops.mean(t, [1]), this.norm.forward(h));
    return this.head.forward(this.head_drop.forward(h));
  }
}

/** timm's defaults: mlp_ratio (0.5, 4.0), 224 px input, 1000 classes. */
function mixerConfig(patch: number, dim: number, depth: number): MixerConfig {
  return {
    patch,
    dim,
    depth,
    tokens: (224 / patch) ** 2,
    tokenHidden: Math.floor(0.5 * dim),
    channelHidden: 4 * dim,
    numClasses: 1000,
  };
}

/** Sizes from the weight shapes where present (a narrow or fine-tuned state_dict),
 * else the named default; loadWeights then checks every key against the result. */
function configFromWeights(d: MixerConfig, w: Map<string, HostTensor>): MixerConfig {
  const proj = shapeOf(w, 'stem.proj.weight');
  const tok = shapeOf(w, 'blocks.0.mlp_tokens.fc1.weight');
  const chan = shapeOf(w, 'blocks.0.mlp_channels.fc1.weight');
  const head = shapeOf(w, 'head.weight');
  return {
    patch: proj?.[2] ?? d.patch,
    dim: proj?.[0] ?? d.dim,
    depth: countIndexed(w, 'blocks.', '.norm1.weight') || d.depth,
    tokens: tok?.[1] ?? d.tokens,
    tokenHidden: tok?.[0] ?? d.tokenHidden,
    channelHidden: chan?.[0] ?? d.channelHidden,
    // a state_dict saved with num_classes=0 has a final norm but no head
    numClasses: head ? head[0]! : w.has('norm.weight') ? 0 : d.numClasses,
  };
}

const spec = (name: string, patch: number, dim: number, depth: number): ModelSpec => ({
  name,
  family: 'mixer',
  preprocess: preprocess(0.875, INCEPTION),
  build: (weights) => {
    const d = mixerConfig(patch, dim, depth);
    return new MlpMixer(weights ? configFromWeights(d, weights) : d);
  },
});

export const mixerSpecs: ModelSpec[] = [
  spec('mixer_s32_224', 32, 512, 8),
  spec('mixer_s16_224', 16, 512, 8),
  spec('mixer_b32_224', 32, 768, 12),
  spec('mixer_b16_224', 16, 768, 12),
  spec('mixer_l16_224', 16, 1024, 24),
];
