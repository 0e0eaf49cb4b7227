import { ops, type Dual } from '../engine/index.js';
import { Module, Param, param } from './module.js';
import { Conv2d, Identity, Linear } from './layers.js';

/** Layers of timm's token models (ViT/DeiT, and the MLP blocks of Mixer and ConvNeXt).
 * Class names are torch's / timm's: they are the module types in layerwise reports. */

/** nn.LayerNorm over the last axis: biased variance, eps inside the square root. timm's
 * ViT, DeiT, Mixer and ConvNeXt all build it with eps 1e-6 (torch's default is 1e-5). */
export class LayerNorm extends Module {
  readonly type: string = 'LayerNorm';
  readonly weight: Param;
  readonly bias: Param;
  constructor(
    dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = param(dim);
    this.bias = param(dim);
  }
  forward(x: Dual): Dual {
    return ops.layerNorm(x, this.weight.value, this.bias.value, { eps: this.eps, axis: 'last' });
  }
}

/** nn.GELU(): the exact erf form, timm's default everywhere (never the tanh form). */
export class GELU extends Module {
  readonly type = 'GELU';
  forward(x: Dual): Dual {
    return ops.gelu(x);
  }
}

/** nn.Dropout in eval mode: the identity, kept as a module because timm's module tree
 * (and so the layerwise report) has it under this type. */
export class Dropout extends Identity {
  override readonly type = 'Dropout';
}

/** timm's Mlp (timm/layers/mlp.py): fc1 -> act -> drop1 -> norm -> fc2 -> drop2 over the
 * last axis; `norm` is an Identity unless a norm layer is asked for (never in ViT). */
export class Mlp extends Module {
  readonly type = 'Mlp';
  readonly fc1: Linear;
  readonly act = new GELU();
  readonly drop1 = new Dropout();
  readonly norm = new Identity();
  readonly fc2: Linear;
  readonly drop2 = new Dropout();
  constructor(dim: number, hidden: number, outDim = dim) {
    super();
    this.fc1 = new Linear(dim, hidden);
    this.fc2 = new Linear(hidden, outDim);
  }
  forward(x: Dual): Dual {
    const h = this.norm.forward(this.drop1.forward(this.act.forward(this.fc1.forward(x))));
    return this.drop2.forward(this.fc2.forward(h));
  }
}

/** Conv2d with kernel = stride = patch, flatten(2).transpose(1, 2): [B, N, D] tokens in
 * row-major patch order (timm's PatchEmbed, shared by ViT/DeiT and the Mixer's `stem`);
 * `norm` is an Identity in every model here. */
export class PatchEmbed extends Module {
  readonly type = 'PatchEmbed';
  readonly proj: Conv2d;
  readonly norm = new Identity();
  constructor(inChans: number, dim: number, patch: number) {
    super();
    this.proj = new Conv2d(inChans, dim, patch, { stride: patch, bias: true });
  }
  forward(x: Dual): Dual {
    return this.norm.forward(ops.transpose(ops.flatten(this.proj.forward(x), 2), 1, 2));
  }
}
