import { LeeError, ops, Tensor, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, param } from './module.js';
import { layerOp } from './hooks.js';
import { Identity, Linear } from './layers.js';
import { Dropout, LayerNorm, Mlp, PatchEmbed } from './transformer-layers.js';
import { IMAGENET, countIndexed, preprocess, shapeOf, type ModelSpec } from './spec.js';

// ConViT (d'Ascoli et al. 2021) as timm 0.9.16's `ConVit`: a ViT whose first
// `local_up_to_layer` blocks use gated positional self-attention (GPSA) on the patch
// tokens alone; the class token joins before the first plain (MHSA) block. pos_embed is
// added to the patch tokens (a layer of its own, as in ViT). qkv bias off, every
// LayerNorm eps 1e-6, 'token' pooling.

/** rel_indices [1, N, N, 3] of timm's GPSA for a k x k grid: (dx, dy, dx^2 + dy^2) from
 * query patch n to key patch m, dx along the width. */
function relIndices(n: number): Tensor {
  const k = Math.round(Math.sqrt(n));
  if (k * k !== n) throw new LeeError(`GPSA needs a square grid of patch tokens, got ${n}`);
  const data = new Float32Array(n * n * 3);
  for (let q = 0; q < n; q++) {
    for (let m = 0; m < n; m++) {
      const dx = (m % k) - (q % k);
      const dy = Math.floor(m / k) - Math.floor(q / k);
      data.set([dx, dy, dx * dx + dy * dy], (q * n + m) * 3);
    }
  }
  return Tensor.fromData(data, [1, n * n, 3]);
}

/** [B, N, H d] -> [B, H, N, d]. */
const heads = (t: Dual, h: number): Dual => {
  const [b, n, c] = t.primal.shape as [number, number, number];
  return ops.permute(ops.reshape(t, [b, n, h, c / h]), [0, 2, 1, 3]);
};

/** timm's GPSA: per head, a gated mix of content attention softmax(q k^T / sqrt(d)) and a
 * positional attention softmax(pos_proj(rel_indices)) that depends on the weights only:
 * attn = (1 - sigmoid(g)) content + sigmoid(g) positional, applied to v, heads merged,
 * projected. The positional term is a fixed, learned token mixing: not equivariant, and
 * inside this one layer (the whole GPSA is one layer, as ViT's Attention). timm divides
 * attn by its row sums; both softmaxes sum to 1 per row, so those are (1 - s) + s = 1
 * and their tangents 0, and the division is left out (a rounding-level difference). The
 * content term is the fused attention kernel, so no N x N matrix is built for it. */
export class GPSA extends Module {
  readonly type = 'GPSA';
  readonly qk: Linear;
  readonly v: Linear;
  readonly attn_drop = new Dropout();
  readonly proj: Linear;
  readonly pos_proj: Linear;
  readonly proj_drop = new Dropout();
  readonly gating_param: Param;
  readonly scale: number;
  constructor(
    dim: number,
    readonly numHeads: number,
    qkvBias: boolean,
  ) {
    super();
    if (dim % numHeads !== 0) throw new LeeError(`embed dim ${dim} is not divisible by ${numHeads} heads`);
    this.scale = (dim / numHeads) ** -0.5;
    this.qk = new Linear(dim, 2 * dim, qkvBias);
    this.v = new Linear(dim, dim, qkvBias);
    this.proj = new Linear(dim, dim);
    this.pos_proj = new Linear(3, numHeads);
    this.gating_param = param(numHeads);
  }
  override get atomic(): boolean {
    return true;
  }
  /** softmax(pos_proj(rel_indices)) per head, [1, H, N, N]: weights only, no tangent. */
  private positional(n: number): Dual {
    const score = ops.reshape(this.pos_proj.forward({ primal: relIndices(n), tangents: null }), [1, n, n, this.numHeads]);
    return ops.softmax(ops.permute(score, [0, 3, 1, 2]), -1);
  }
  forward(x: Dual): Dual {
    const [b, n, c] = x.primal.shape as [number, number, number];
    const h = this.numHeads;
    const qk = this.qk.forward(x);
    const q = heads(ops.narrow(qk, 2, 0, c), h);
    const k = heads(ops.narrow(qk, 2, c, c), h);
    const v = heads(this.v.forward(x), h);
    const gate = ops.reshape(ops.sigmoid(this.gating_param.value), [1, h, 1, 1]);
    const content = ops.mul(ops.attention(q, k, v, { scale: this.scale }), ops.affine(gate, -1, 1));
    const positional = ops.mul(ops.matmul(this.positional(n), v), gate);
    const mixed = ops.reshape(ops.transpose(ops.add(content, positional), 1, 2), [b, n, c]);
    return this.proj_drop.forward(this.proj.forward(mixed));
  }
}

/** timm's MHSA: the plain multi-head self-attention of the later blocks (qkv packed as
 * in ViT's Attention). */
export class MHSA extends Module {
  readonly type = 'MHSA';
  readonly qkv: Linear;
  readonly attn_drop = new Dropout();
  readonly proj: Linear;
  readonly proj_drop = new Dropout();
  readonly scale: number;
  constructor(
    dim: number,
    readonly numHeads: number,
    qkvBias: boolean,
  ) {
    super();
    if (dim % numHeads !== 0) throw new LeeError(`embed dim ${dim} is not divisible by ${numHeads} heads`);
    this.scale = (dim / numHeads) ** -0.5;
    this.qkv = new Linear(dim, 3 * dim, qkvBias);
    this.proj = new Linear(dim, dim);
  }
  override get atomic(): boolean {
    return true;
  }
  forward(x: Dual): Dual {
    const o = ops.qkvAttention(this.qkv.forward(x), this.numHeads, { scale: this.scale });
    return this.proj_drop.forward(this.proj.forward(o));
  }
}

/** Pre-norm block: x + attn(norm1(x)), x + mlp(norm2(x)); one `drop_path` called twice. */
class Block extends Module {
  readonly type = 'Block';
  readonly norm1: LayerNorm;
  readonly attn: GPSA | MHSA;
  readonly drop_path = new Identity();
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, numHeads: number, mlpHidden: number, gpsa: boolean, qkvBias: boolean) {
    super();
    this.norm1 = new LayerNorm(dim);
    this.attn = gpsa ? new GPSA(dim, numHeads, qkvBias) : new MHSA(dim, numHeads, qkvBias);
    this.norm2 = new LayerNorm(dim);
    this.mlp = new Mlp(dim, mlpHidden);
  }
  forward(x: Dual): Dual {
    x = ops.add(x, this.drop_path.forward(this.attn.forward(this.norm1.forward(x))));
    return ops.add(x, this.drop_path.forward(this.mlp.forward(this.norm2.forward(x))));
  }
}

export interface ConVitConfig {
  patch: number;
  inChans: number;
  dim: number;
  depth: number;
  /** GPSA blocks before the first MHSA block (timm's local_up_to_layer) */
  localUpToLayer: number;
  numHeads: number;
  mlpHidden: number;
  qkvBias: boolean;
  /** patch tokens: pos_embed is [1, N, D] */
  tokens: number;
  /** 0: `head` is an Identity and the model returns the class token's features */
  numClasses: number;
}

export class ConVit extends Module {
  readonly type = 'ConVit';
  readonly patch_embed: PatchEmbed;
  readonly cls_token: Param;
  readonly pos_drop = new Dropout();
  readonly pos_embed: Param;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly head_drop = new Dropout();
  readonly head: Module;
  constructor(readonly config: ConVitConfig) {
    super();
    const c = config;
    this.patch_embed = new PatchEmbed(c.inChans, c.dim, c.patch);
    this.cls_token = param(1, 1, c.dim);
    this.pos_embed = param(1, c.tokens, c.dim);
    this.blocks = Array.from({ length: c.depth }, (_, i) => new Block(c.dim, c.numHeads, c.mlpHidden, i < c.localUpToLayer, c.qkvBias));
    this.norm = new LayerNorm(c.dim);
    this.head = c.numClasses > 0 ? new Linear(c.dim, c.numClasses) : new Identity();
  }
  forward(x: Dual): Dual {
    let h = this.patch_embed.forward(x);
    const [b, n, d] = h.primal.shape as [number, number, number];
    const { tokens, patch } = this.config;
    if (n !== tokens) {
      const side = Math.round(Math.sqrt(tokens)) * patch;
      throw new LeeError(`this ConViT's pos_embed holds ${tokens} patches of ${patch} px (a ${side}x${side} input), but a [${x.primal.shape.join(', ')}] input gives ${n}`);
    }
    // adding pos_embed is not equivariant: a layer of its own (before the class token joins)
    h = this.pos_drop.forward(layerOp('pos_embed', 'pos_embed_add', (t) => ops.add(t, this.pos_embed.value), h));
    this.blocks.forEach((blk, u) => {
      // the class token (G = 0) joins in front of the patch tokens: exactly equivariant
      if (u === this.config.localUpToLayer) h = ops.concat([ops.expand(this.cls_token.value, [b, 1, d]), h], 1);
      h = blk.forward(h);
    });
    h = this.norm.forward(h);
    const cls = ops.reshape(ops.narrow(h, 1, 0, 1), [b, d]);
    return this.head.forward(this.head_drop.forward(cls));
  }
}

/** timm's convit_*: embed_dim 48 per head, depth 12, 10 GPSA blocks, mlp_ratio 4. */
function defaultConfig(numHeads: number): ConVitConfig {
  const dim = 48 * numHeads;
  return { patch: 16, inChans: 3, dim, depth: 12, localUpToLayer: 10, numHeads, mlpHidden: 4 * dim, qkvBias: false, tokens: 196, numClasses: 1000 };
}

/** Sizes from the weights: width, depth, which blocks are GPSA (they have a gating_param,
 * whose length is the number of heads), grid, classes. */
function configFromWeights(d: ConVitConfig, w: Map<string, HostTensor>): ConVitConfig {
  const proj = shapeOf(w, 'patch_embed.proj.weight');
  const pos = shapeOf(w, 'pos_embed');
  const fc1 = shapeOf(w, 'blocks.0.mlp.fc1.weight');
  const gate = shapeOf(w, 'blocks.0.attn.gating_param');
  const head = shapeOf(w, 'head.weight');
  const depth = countIndexed(w, 'blocks.', '.norm1.weight') || d.depth;
  const local = countIndexed(w, 'blocks.', '.attn.gating_param');
  return {
    patch: proj?.[2] ?? d.patch,
    inChans: proj?.[1] ?? d.inChans,
    dim: proj?.[0] ?? d.dim,
    depth,
    localUpToLayer: proj ? local : d.localUpToLayer,
    numHeads: gate?.[0] ?? d.numHeads,
    mlpHidden: fc1?.[0] ?? d.mlpHidden,
    qkvBias: w.has('blocks.0.attn.qk.bias') || w.has('blocks.0.attn.qkv.bias'),
    tokens: pos?.[1] ?? d.tokens,
    numClasses: head ? head[0]! : w.has('norm.weight') ? 0 : d.numClasses,
  };
}

const spec = (name: string, numHeads: number): ModelSpec => ({
  name,
  family: 'convit',
  // default tags fb_in1k: crop 0.875, bicubic, ImageNet mean/std
  preprocess: preprocess(0.875, IMAGENET),
  build: (weights) => {
    const d = defaultConfig(numHeads);
    return new ConVit(weights ? configFromWeights(d, weights) : d);
  },
});

export const convitSpecs: ModelSpec[] = [spec('convit_tiny', 4), spec('convit_small', 9), spec('convit_base', 16)];
