import { ops, type Dual } from '../engine/index.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Module, Param, param } from './module.js';
import { layerOp } from './hooks.js';
import { fusing } from './fold.js';
import { Conv2d, Identity, ReLU } from './layers.js';

/** timm's fused norm + activation layers (timm/layers/norm_act.py, conv_bn_act.py),
 * shared by the families built from `ConvNormAct` / `BatchNormAct2d` (Inception,
 * EfficientNet, DenseNet). */

/** timm's BatchNormAct2d: an nn.BatchNorm2d subclass (its weights are the module's own:
 * `bn.weight`, `bn.running_mean`, ...) that then applies `drop` and `act`. Having
 * children, it is no leaf, so its batch norm is a functional layer under its own name
 * (type BatchNormAct2d), followed by the leaves `<name>.drop` and `<name>.act`; like
 * BatchNorm2d, the norm is one affine map per position (zero under a spatial generator). */
export class BatchNormAct2d extends Module {
  readonly type = 'BatchNormAct2d';
  readonly weight: Param;
  readonly bias: Param;
  readonly running_mean: Param;
  readonly running_var: Param;
  readonly drop = new Identity();
  readonly act: Module;
  constructor(
    channels: number,
    readonly eps = 1e-5,
    act: Module = new ReLU(),
  ) {
    super();
    this.weight = param(channels);
    this.bias = param(channels);
    this.running_mean = param(channels);
    this.running_var = param(channels);
    this.act = act;
  }
  forward(x: Dual): Dual {
    const norm = (t: Dual) => ops.batchNorm(t, this.running_mean.value, this.running_var.value, this.weight.value, this.bias.value, this.eps);
    return this.afterNorm(layerOp(this.name, this.type, norm, x, undefined, 1));
  }
  /** What follows the norm: `drop`, then `act`. */
  afterNorm(y: Dual): Dual {
    return this.act.forward(this.drop.forward(y));
  }
}

export interface ConvNormActOptions {
  stride?: number;
  /** zero padding per axis; timm's inception blocks pass it explicitly (default 0) */
  padding?: number | [number, number];
  groups?: number;
  /** BatchNormAct2d's eps (Inception: 1e-3) */
  eps?: number;
  act?: () => Module;
}

/** timm's ConvNormAct: `conv` (bias-free) then `bn`, a BatchNormAct2d. */
export class ConvNormAct extends Module {
  readonly type = 'ConvNormAct';
  readonly conv: Conv2d;
  readonly bn: BatchNormAct2d;
  constructor(inChannels: number, outChannels: number, kernel: number | [number, number], o: ConvNormActOptions = {}) {
    super();
    this.conv = new Conv2d(inChannels, outChannels, kernel, { stride: o.stride ?? 1, padding: o.padding ?? 0, groups: o.groups });
    this.bn = new BatchNormAct2d(outChannels, o.eps ?? 1e-5, o.act ? o.act() : new ReLU());
    this.conv.foldInto(this.bn);
  }
  get outChannels(): number {
    return this.conv.weight.shape[0]!;
  }
  forward(x: Dual): Dual {
    // the norm folded into the conv (models/fold.ts) unless a layer hook watches
    if (fusing(this.conv, this.bn)) return this.bn.afterNorm(this.conv.forwardFolded(x));
    return this.bn.forward(this.conv.forward(x));
  }
}

export type ConvNormActFactory = (path: string, inChannels: number, outChannels: number, kernel: number | [number, number], o?: ConvNormActOptions) => ConvNormAct;

/** A ConvNormAct maker for the families whose widths timm hardcodes (Inception): each
 * conv's output width is read from its weights (`<path>.conv.weight`, [out, in, kh, kw])
 * where the state_dict has it, else timm's number. Input widths follow from the
 * architecture (sums of branch widths), so a file whose widths disagree among
 * themselves fails the key and shape check. */
export function convNormActs(weights: Map<string, HostTensor> | undefined, defaults: ConvNormActOptions = {}): ConvNormActFactory {
  return (path, inChannels, outChannels, kernel, o = {}) => {
    const out = weights?.get(`${path}.conv.weight`)?.shape[0] ?? outChannels;
    return new ConvNormAct(inChannels, out, kernel, { ...defaults, ...o });
  };
}
