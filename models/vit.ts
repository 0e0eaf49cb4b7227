import { LeeError, ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, Sequential, param } from './module.js';
import { layerOp } from './hooks.js';
import { Identity, Linear } from './layers.js';
import { Dropout, LayerNorm, Mlp, PatchEmbed } from './transformer-layers.js';
import { IMAGENET, INCEPTION, countIndexed, preprocess, shapeOf, type ModelSpec, type Preprocess } from './spec.js';

// Vision Transformer (Dosovitskiy et al. 2021) and DeiT (Touvron et al. 2021) as timm
// 0.9.16's `VisionTransformer` / `VisionTransformerDistilled` in eval mode: patches ->
// [cls (, dist)] tokens + pos_embed -> pre-norm blocks -> LayerNorm -> token pooling.
// Every LayerNorm has eps 1e-6; GELU is the erf form.

/** timm's `Attention`: one qkv Linear, heads split as reshape [B, N, 3, H, hd] then
 * permute (2, 0, 3, 1, 4), so qkv feature f = s D + h hd + c for s = q, k, v; then
 * softmax(hd^-1/2 q k^T) v per head, heads merged back (transpose(1, 2).reshape(B, N, D))
 * and projected. Split, attention and merge are one fused kernel (`ops.qkvAttention`)
 * that reads q, k, v out of the qkv output in place: five layout copies per block
 * (each also carrying K tangents) would cost more than the attention itself. */
export class Attention extends Module {
  readonly type = 'Attention';
  readonly qkv: Linear;
  /** Identities on q and k (qk_norm False). The fused kernel never materialises q and
   * k, nor the N x N matrix that `attn_drop` acts on in timm's explicit path, so these
   * eval-mode identities are not called (as `attn_drop` in timm's own fused path). */
  readonly q_norm = new Identity();
  readonly k_norm = new Identity();
  readonly attn_drop = new Dropout();
  readonly proj: Linear;
  readonly proj_drop = new Dropout();
  readonly headDim: number;
  readonly scale: number;

  constructor(
    dim: number,
    readonly heads: number,
    qkvBias: boolean,
  ) {
    super();
    if (dim % heads !== 0) throw new LeeError(`embed dim ${dim} is not divisible by ${heads} attention heads`);
    this.headDim = dim / heads;
    this.scale = this.headDim ** -0.5;
    this.qkv = new Linear(dim, 3 * dim, qkvBias);
    this.proj = new Linear(dim, dim);
  }

  /** timm's layerwise attribution counts the whole attention as one layer */
  override get atomic(): boolean {
    return true;
  }

  forward(x: Dual): Dual {
    const o = ops.qkvAttention(this.qkv.forward(x), this.heads, { scale: this.scale });
    return this.proj_drop.forward(this.proj.forward(o));
  }
}

/** Pre-norm residual block: x + attn(norm1(x)), then x + mlp(norm2(x)). `ls1/ls2`
 * (layer scale) and `drop_path1/2` are identities (init_values None, eval mode). */
export class Block extends Module {
  readonly type = 'Block';
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly ls1 = new Identity();
  readonly drop_path1 = new Identity();
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly ls2 = new Identity();
  readonly drop_path2 = new Identity();

  constructor(dim: number, heads: number, mlpHidden: number, qkvBias: boolean) {
    super();
    this.norm1 = new LayerNorm(dim);
    this.attn = new Attention(dim, heads, qkvBias);
    this.norm2 = new LayerNorm(dim);
    this.mlp = new Mlp(dim, mlpHidden);
  }

  forward(x: Dual): Dual {
    x = ops.add(x, this.drop_path1.forward(this.ls1.forward(this.attn.forward(this.norm1.forward(x)))));
    return ops.add(x, this.drop_path2.forward(this.ls2.forward(this.mlp.forward(this.norm2.forward(x)))));
  }
}

export interface VitConfig {
  patch: number;
  inChans: number;
  dim: number;
  depth: number;
  /** not stored in a state_dict: the named architecture's default unless given */
  heads: number;
  mlpHidden: number;
  qkvBias: boolean;
  /** patch tokens N = (H / patch) (W / patch); pos_embed has prefix + N rows */
  tokens: number;
  /** 0: no head, the model returns pooled features (timm's num_classes=0) */
  numClasses: number;
  /** DeiT's distillation token and second head */
  distilled: boolean;
}

const headOrIdentity = (dim: number, classes: number): Module => (classes > 0 ? new Linear(dim, classes) : new Identity());

/** The token [B, D] at index i of [B, N, D]. */
const token = (x: Dual, i: number): Dual => {
  const [b, , d] = x.primal.shape as [number, number, number];
  return ops.reshape(ops.narrow(x, 1, i, 1), [b, d]);
};

/** ViT with class token and 'token' pooling; `head` is an Identity without classes. */
export class VisionTransformer extends Module {
  readonly type: string = 'VisionTransformer';
  readonly cls_token: Param;
  readonly pos_embed: Param;
  readonly patch_embed: PatchEmbed;
  readonly pos_drop = new Dropout();
  readonly patch_drop = new Identity();
  readonly norm_pre = new Identity();
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  /** a LayerNorm only with 'avg' pooling; an Identity with 'token' pooling */
  readonly fc_norm = new Identity();
  readonly head_drop = new Dropout();
  readonly head: Module;

  constructor(readonly config: VitConfig) {
    super();
    const c = config;
    this.cls_token = param(1, 1, c.dim);
    this.pos_embed = param(1, this.prefixTokens + c.tokens, c.dim);
    this.patch_embed = new PatchEmbed(c.inChans, c.dim, c.patch);
    this.blocks = new Sequential(Array.from({ length: c.depth }, () => new Block(c.dim, c.heads, c.mlpHidden, c.qkvBias)));
    this.norm = new LayerNorm(c.dim);
    this.head = headOrIdentity(c.dim, c.numClasses);
  }

  /** class token (and distillation token) in front of the patch tokens */
  get prefixTokens(): number {
    return this.config.distilled ? 2 : 1;
  }

  /** [cls (, dist), patches] + pos_embed: the prefix tokens and pos_embed are weights.
   * Adding pos_embed is not equivariant, so it is a layer of its own (`pos_embed`). */
  protected embed(x: Dual): Dual {
    const h = this.patch_embed.forward(x);
    const [b, n, d] = h.primal.shape as [number, number, number];
    const { tokens, patch } = this.config;
    if (n !== tokens) {
      const side = Math.round(Math.sqrt(tokens)) * patch;
      throw new LeeError(
        `this ViT's pos_embed holds ${tokens} patches of ${patch} px (a ${side}x${side} input), ` +
          `but a [${x.primal.shape.join(', ')}] input gives ${n}`,
      );
    }
    const prefix = [this.cls_token, ...this.extraTokens()].map((t) => ops.expand(t.value, [b, 1, d]));
    const joined = ops.concat([...prefix, h], 1);
    return layerOp('pos_embed', 'pos_embed_add', (t) => ops.add(t, this.pos_embed.value), joined);
  }

  protected extraTokens(): Param[] {
    return [];
  }

  /** Final norm output [B, prefix + N, D] to logits. */
  protected forwardHead(x: Dual): Dual {
    return this.head.forward(this.head_drop.forward(this.fc_norm.forward(token(x, 0))));
  }

  forward(x: Dual): Dual {
    let h = this.norm_pre.forward(this.patch_drop.forward(this.pos_drop.forward(this.embed(x))));
    h = this.norm.forward(this.blocks.forward(h));
    return this.forwardHead(h);
  }
}

/** DeiT with a distillation token: in eval the logits are the mean of `head` on the
 * class token and `head_dist` on the distillation token. `fc_norm` and `head_drop` exist
 * (timm builds them) but are never called. */
export class VisionTransformerDistilled extends VisionTransformer {
  override readonly type = 'VisionTransformerDistilled';
  readonly dist_token: Param;
  readonly head_dist: Module;

  constructor(config: VitConfig) {
    super({ ...config, distilled: true });
    this.dist_token = param(1, 1, config.dim);
    this.head_dist = headOrIdentity(config.dim, config.numClasses);
  }

  protected override extraTokens(): Param[] {
    return [this.dist_token];
  }

  protected override forwardHead(x: Dual): Dual {
    const cls = this.head.forward(token(x, 0));
    const dist = this.head_dist.forward(token(x, 1));
    return ops.affine(ops.add(cls, dist), 0.5);
  }
}

/** A named architecture's defaults (timm 0.9.16, mlp_ratio 4, qkv bias, 224 px). */
interface Variant {
  name: string;
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  distilled: boolean;
  deit: boolean;
  /** the default pretrained tag's classes (vit_large_patch32_224's orig_in21k has none) */
  numClasses: number;
  /** input resolution (default 224): the *_384 models' pos_embed holds (384 / patch)^2 patches */
  img?: number;
  /** default true; the MIIL ViT has none */
  qkvBias?: boolean;
  /** the default tag's eval preprocessing, where it is not the family's */
  preprocess?: Preprocess;
}

function defaultConfig(v: Variant): VitConfig {
  return {
    patch: v.patch,
    inChans: 3,
    dim: v.dim,
    depth: v.depth,
    heads: v.heads,
    mlpHidden: 4 * v.dim,
    qkvBias: v.qkvBias ?? true,
    tokens: ((v.img ?? 224) / v.patch) ** 2,
    numClasses: v.numClasses,
    distilled: v.distilled,
  };
}

export interface VitBuildOptions {
  /** attention heads: a state_dict does not record them (qkv is [3D, D] for any split) */
  numHeads?: number;
}

/** Sizes from the weight shapes (width, depth, patch, grid, classes, distillation
 * token), the rest from the named default. The number of heads is invisible in the
 * weights: it is the architecture's (tiny 3, small 6, base 12, large 16, i.e. head dim
 * 64 at the named widths) unless `numHeads` says otherwise. */
export function vitConfig(v: Variant, w?: Map<string, HostTensor>, options: VitBuildOptions = {}): VitConfig {
  const d = defaultConfig(v);
  let c = d;
  if (w) {
    const proj = shapeOf(w, 'patch_embed.proj.weight');
    if (proj && proj[2] !== proj[3]) throw new LeeError(`patch_embed.proj.weight [${proj.join(', ')}] is not a square patch`);
    const distilled = w.has('dist_token');
    const pos = shapeOf(w, 'pos_embed');
    const fc1 = shapeOf(w, 'blocks.0.mlp.fc1.weight');
    const head = shapeOf(w, 'head.weight');
    const depth = countIndexed(w, 'blocks.', '.norm1.weight');
    c = {
      ...d,
      patch: proj?.[2] ?? d.patch,
      inChans: proj?.[1] ?? d.inChans,
      dim: proj?.[0] ?? d.dim,
      depth: depth || d.depth,
      mlpHidden: fc1?.[0] ?? d.mlpHidden,
      qkvBias: depth ? w.has('blocks.0.attn.qkv.bias') : d.qkvBias,
      tokens: pos ? pos[1]! - (distilled ? 2 : 1) : d.tokens,
      numClasses: head ? head[0]! : w.has('norm.weight') ? 0 : d.numClasses,
      distilled,
    };
  }
  const heads = options.numHeads ?? c.heads;
  if (!Number.isInteger(heads) || heads < 1 || c.dim % heads !== 0) {
    const given = options.numHeads === undefined ? `${v.name}'s default of ${heads} heads` : `${heads} heads`;
    throw new LeeError(
      `embed dim ${c.dim} does not split into ${given}; a state_dict does not record the number of heads, so give it (numHeads)`,
    );
  }
  return { ...c, heads };
}

/** [size, patch, width, depth, heads] of timm's ViTs, at 224 and 384 px alike. */
const SIZES = [
  ['tiny', 16, 192, 12, 3],
  ['small', 16, 384, 12, 6],
  ['small', 32, 384, 12, 6],
  ['base', 16, 768, 12, 12],
  ['base', 32, 768, 12, 12],
  ['large', 16, 1024, 24, 16],
  ['large', 32, 1024, 24, 16],
] as const;

const VARIANTS: Variant[] = [
  ...SIZES.map(([size, patch, dim, depth, heads]): Variant => ({
    name: `vit_${size}_patch${patch}_224`,
    patch,
    dim,
    depth,
    heads,
    distilled: false,
    deit: false,
    // timm's default tag of large/32 (orig_in21k) has no classifier
    numClasses: size === 'large' && patch === 32 ? 0 : 1000,
  })),
  // the 384 px fine-tunes (default tags augreg_in21k_ft_in1k, large/32 orig_in21k_ft_in1k):
  // crop 1.0, bicubic, Inception mean/std
  ...SIZES.map(([size, patch, dim, depth, heads]): Variant => ({
    name: `vit_${size}_patch${patch}_384`,
    patch,
    dim,
    depth,
    heads,
    distilled: false,
    deit: false,
    numClasses: 1000,
    img: 384,
    preprocess: { inputSize: [3, 384, 384], cropPct: 1, interpolation: 'bicubic', ...INCEPTION },
  })),
  // Alibaba MIIL's ViT-B/16 (ImageNet-21K-P, no qkv bias). Its paper name meant the
  // ImageNet-1k fine-tune (in21k_ft_in1k; models/names.ts): mean 0, std 1, bilinear
  {
    name: 'vit_base_patch16_224_miil',
    patch: 16,
    dim: 768,
    depth: 12,
    heads: 12,
    distilled: false,
    deit: false,
    numClasses: 1000,
    qkvBias: false,
    preprocess: { inputSize: [3, 224, 224], cropPct: 0.875, interpolation: 'bilinear', mean: [0, 0, 0], std: [1, 1, 1] },
  },
  // (timm 0.9.16 has no vit_tiny_patch32_224, so neither do we)
  ...(
    [
      ['tiny', 192, 3],
      ['small', 384, 6],
      ['base', 768, 12],
    ] as const
  ).flatMap(([size, dim, heads]): Variant[] =>
    [false, true].map((distilled) => ({
      name: `deit_${size}${distilled ? '_distilled' : ''}_patch16_224`,
      patch: 16,
      dim,
      depth: 12,
      heads,
      distilled,
      deit: true,
      numClasses: 1000,
    })),
  ),
];

/** Distilled or not follows the weights (a dist_token), else the name. */
export function buildVit(c: VitConfig): VisionTransformer {
  return c.distilled ? new VisionTransformerDistilled(c) : new VisionTransformer(c);
}

/** A ViT/DeiT spec: `build` also takes the number of heads, which weights cannot tell. */
export interface VitSpec extends ModelSpec {
  build(weights?: Map<string, HostTensor>, options?: VitBuildOptions): Module;
}

export const vitSpecs: VitSpec[] = VARIANTS.map((v) => ({
  name: v.name,
  family: 'vit',
  // timm's default tags: augreg (Inception mean/std) for ViT, fb_in1k (ImageNet) for DeiT
  preprocess: v.preprocess ?? preprocess(0.9, v.deit ? IMAGENET : INCEPTION),
  build: (weights, options) => buildVit(vitConfig(v, weights, options)),
}));
