import { ops, keep, runtime, Tensor, type Dual, type Runtime } from '../engine/index.js';
import { Module, Param, param } from './module.js';
import { cachedFold, foldBatchNorm, fusing, type Folded } from './fold.js';

/** Leaf layers shared by the model families. Class names are torch's / timm's (they
 * are the module types in layerwise reports); fields are their state_dict names. */

type IntPair = number | [number, number];
const all = (v: IntPair, d: number) => (typeof v === 'number' ? [v] : v).every((x) => x === d);

/** nn.Conv2d, kernel square or [kh, kw] (Inception's 1x7 / 7x1); no bias unless asked
 * (timm's ResNets have none). */
export class Conv2d extends Module {
  readonly type = 'Conv2d';
  readonly weight: Param;
  readonly bias?: Param;
  constructor(
    inChannels: number,
    outChannels: number,
    kernel: IntPair,
    readonly options: { stride?: IntPair; padding?: IntPair; dilation?: number; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
    this.weight = param(outChannels, inChannels / groups, kh, kw);
    if (options.bias) this.bias = param(outChannels);
  }
  override get affineFeatureAxis(): 1 | null {
    const [, , kh, kw] = this.weight.shape;
    return kh === 1 && kw === 1 && all(this.options.stride ?? 1, 1) && all(this.options.padding ?? 0, 0) ? 1 : null;
  }
  private folded: Folded | null = null;
  /** The eval BatchNorm this conv's output goes straight into, if its model says so
   * (`foldInto`); a # field, so it is no child in the module tree. */
  #norm: EvalNorm | null = null;

  forward(x: Dual): Dual {
    return this.run(x, this.weight.value, this.bias?.value ?? null);
  }

  /** Declare that this conv's output feeds only `bn`: its weights are folded (models/fold.ts)
   * when they are loaded, and `convBn(this, bn, x)` runs the folded conv. */
  foldInto(bn: EvalNorm): void {
    this.#norm = bn;
  }

  foldsInto(bn: EvalNorm): boolean {
    return this.#norm === bn;
  }

  /** This conv with its BatchNorm folded into its weights (and with `relu`, a ReLU in its
   * epilogue); the caller checks `fusing(conv, bn)`. */
  forwardFolded(x: Dual, relu = false, residual?: Dual): Dual {
    const folded = this.fold();
    return this.run(x, folded.weight, folded.bias, relu, residual);
  }

  private fold(): Folded {
    const bn = this.#norm;
    if (!bn) throw new Error(`${this.name || 'Conv2d'}: no BatchNorm to fold into this conv`);
    const from = [this.weight.value, ...(this.bias ? [this.bias.value] : []), bn.running_mean.value, bn.running_var.value, bn.weight.value, bn.bias.value];
    this.folded = cachedFold(this.folded, from, () =>
      foldBatchNorm(this.weight.value, this.bias?.value ?? null, {
        mean: bn.running_mean.value,
        variance: bn.running_var.value,
        gamma: bn.weight.value,
        beta: bn.bias.value,
        eps: bn.eps,
      }),
    );
    return this.folded;
  }

  override prepareDerived(): void {
    if (this.#norm) this.fold();
  }

  override pairWithNext(next: Module): void {
    if (next instanceof BatchNorm2d) this.#norm = next;
  }

  override thenFolds(next: Module): boolean {
    return next instanceof BatchNorm2d && this.foldsInto(next);
  }

  override forwardFoldingNext(next: Module, x: Dual): Dual {
    return convBn(this, next as BatchNorm2d, x);
  }

  override disposeDerived(): void {
    this.folded?.weight.dispose();
    this.folded?.bias.dispose();
    this.folded = null;
  }

  private run(x: Dual, weight: Tensor, bias: Tensor | null, relu = false, residual?: Dual): Dual {
    const { stride, padding, dilation, groups } = this.options;
    return ops.conv2d(x, weight, bias, { stride, padding, dilation, groups, relu, ...(residual ? { residual } : {}) });
  }
}

/** An eval BatchNorm's weights, as BatchNorm2d and timm's BatchNormAct2d hold them. */
export interface EvalNorm {
  readonly weight: Param;
  readonly bias: Param;
  readonly running_mean: Param;
  readonly running_var: Param;
  readonly eps: number;
}

/** `conv` then eval `bn` on its output: one folded convolution unless a layer hook
 * watches or folding is off (models/fold.ts). */
export function convBn(conv: Conv2d, bn: BatchNorm2d, x: Dual): Dual {
  return fusing(conv, bn) && conv.foldsInto(bn) ? conv.forwardFolded(x) : bn.forward(conv.forward(x));
}

/** `act(between(bn(conv(x))))`, where `between` are eval no-ops (timm's DropBlock
 * placeholders): one folded convolution with the ReLU in its epilogue when the pair folds
 * and neither the activation nor a no-op is watched by a layer hook. */
export function convBnAct(conv: Conv2d, bn: BatchNorm2d, act: Module, x: Dual, ...between: Module[]): Dual {
  const fused = act instanceof ReLU && between.every((m) => m instanceof Identity) && fusing(conv, bn, act, ...between) && conv.foldsInto(bn);
  if (fused) return conv.forwardFolded(x, true);
  return act.forward(between.reduce((h, m) => m.forward(h), convBn(conv, bn, x)));
}

/** `act(a + b)`, a residual block's end: one pass for value and tangents when `act` is a
 * ReLU that no layer hook watches (the add itself is exactly equivariant, no layer). */
export function addAct(act: Module, a: Dual, b: Dual): Dual {
  return act instanceof ReLU && fusing(act) ? ops.addRelu(a, b) : act.forward(ops.add(a, b));
}

/** `act(se(bn(conv(x))) + shortcut())`, a residual block's last convolution and its end
 * (`se` a squeeze-excitation, if the block has one): without one, the add and the ReLU
 * run in the folded convolution's epilogue when all three fuse, and the shortcut then
 * runs first (it is an operand); otherwise after the BatchNorm, as timm. */
export function convBnAddAct(conv: Conv2d, bn: BatchNorm2d, act: Module, x: Dual, shortcut: () => Dual, se?: Module): Dual {
  if (!se && act instanceof ReLU && fusing(conv, bn, act) && conv.foldsInto(bn)) return conv.forwardFolded(x, true, shortcut());
  const y = convBn(conv, bn, x);
  return addAct(act, se ? se.forward(y) : y, shortcut());
}

/** nn.BatchNorm2d in eval mode: running statistics, never batch statistics. */
export class BatchNorm2d extends Module {
  readonly type = 'BatchNorm2d';
  readonly weight: Param;
  readonly bias: Param;
  readonly running_mean: Param;
  readonly running_var: Param;
  constructor(
    channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = param(channels);
    this.bias = param(channels);
    this.running_mean = param(channels);
    this.running_var = param(channels);
  }
  override get affineFeatureAxis(): 1 {
    return 1;
  }
  forward(x: Dual): Dual {
    return ops.batchNorm(x, this.running_mean.value, this.running_var.value, this.weight.value, this.bias.value, this.eps);
  }
}

/** nn.Linear over the last axis: y = x W^T + b, weight [out, in]. */
export class Linear extends Module {
  readonly type = 'Linear';
  readonly weight: Param;
  readonly bias?: Param;
  constructor(inFeatures: number, outFeatures: number, bias = true) {
    super();
    this.weight = param(outFeatures, inFeatures);
    if (bias) this.bias = param(outFeatures);
  }
  override get affineFeatureAxis(): -1 {
    return -1;
  }
  forward(x: Dual): Dual {
    return ops.linear(x, this.weight.value, this.bias?.value ?? null);
  }
}

export class ReLU extends Module {
  readonly type = 'ReLU';
  forward(x: Dual): Dual {
    return ops.relu(x);
  }
}

/** nn.ReLU6: min(max(x, 0), 6) (MobileNetV2). */
export class ReLU6 extends Module {
  readonly type = 'ReLU6';
  forward(x: Dual): Dual {
    return ops.relu6(x);
  }
}

/** nn.SiLU, timm's 'swish': x sigmoid(x) (EfficientNet). */
export class SiLU extends Module {
  readonly type = 'SiLU';
  forward(x: Dual): Dual {
    return ops.silu(x);
  }
}

/** nn.Sigmoid / timm's Sigmoid: the squeeze-excitation gate. */
export class Sigmoid extends Module {
  readonly type = 'Sigmoid';
  forward(x: Dual): Dual {
    return ops.sigmoid(x);
  }
}

/** nn.Identity; also stands for eval-mode Dropout / DropPath / DropBlock slots, which
 * timm keeps as modules (they appear in its leaf lists). */
export class Identity extends Module {
  readonly type: string = 'Identity';
  forward(x: Dual): Dual {
    return x;
  }
}

/** nn.MaxPool2d, square window; padding counts as -inf as in PyTorch. */
export class MaxPool2d extends Module {
  readonly type = 'MaxPool2d';
  constructor(
    readonly kernel: number,
    readonly stride = kernel,
    readonly padding = 0,
  ) {
    super();
  }
  forward(x: Dual): Dual {
    return ops.maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

/** nn.AvgPool2d, square window; zero padding, counted in the divisor unless
 * `countIncludePad` is false (Inception v4's branch pools, ResNet-D's shortcut). */
export class AvgPool2d extends Module {
  readonly type = 'AvgPool2d';
  constructor(
    readonly kernel: number,
    readonly stride = kernel,
    readonly padding = 0,
    readonly options: { ceilMode?: boolean; countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Dual): Dual {
    return ops.avgPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, ...this.options });
  }
}

export class AdaptiveAvgPool2d extends Module {
  readonly type = 'AdaptiveAvgPool2d';
  constructor(readonly output: number | [number, number]) {
    super();
  }
  forward(x: Dual): Dual {
    return ops.adaptiveAvgPool2d(x, this.output);
  }
}

/** nn.Flatten: axes start_dim..end of NCHW into one (default: all but the batch). */
export class Flatten extends Module {
  readonly type = 'Flatten';
  constructor(readonly startDim = 1) {
    super();
  }
  forward(x: Dual): Dual {
    return ops.flatten(x, this.startDim);
  }
}

/** timm's SelectAdaptivePool2d with pool_type 'avg': `pool` then `flatten`, which is
 * nn.Flatten(1) when the head flattens here (ResNet) and Identity when it does not
 * (ConvNeXt keeps [B, C, 1, 1] for its head norm). */
export class SelectAdaptivePool2d extends Module {
  readonly type = 'SelectAdaptivePool2d';
  readonly pool = new AdaptiveAvgPool2d(1);
  readonly flatten: Module;
  constructor(flatten = true) {
    super();
    this.flatten = flatten ? new Flatten(1) : new Identity();
  }
  forward(x: Dual): Dual {
    return this.flatten.forward(this.pool.forward(x));
  }
}

/** Binomial filter taps for timm's BlurPool2d: coefficients of (0.5 + 0.5 z)^(n-1). */
function binomial(n: number): number[] {
  let c = [1];
  for (let i = 1; i < n; i++) c = [...c, 0].map((v, j) => 0.5 * (v + (j > 0 ? c[j - 1]! : 0)));
  return c;
}

/** Blur filters per runtime and size: constants shared by every BlurPool2d of every
 * model (bounded by the distinct channel counts), uploaded on first use and kept for
 * the runtime's life, outside any tidy scope. A new runtime (after shutdown/init) gets
 * its own; the old ones died with their device. */
const blurFilters = new WeakMap<Runtime, Map<string, Tensor>>();

function blurFilter(channels: number, filtSize: number): Tensor {
  const rt = runtime();
  let cache = blurFilters.get(rt);
  if (!cache) blurFilters.set(rt, (cache = new Map()));
  const key = `${channels}:${filtSize}`;
  let filt = cache.get(key);
  if (!filt || filt.disposed) {
    const c = binomial(filtSize);
    const taps = c.flatMap((a) => c.map((b) => a * b));
    const data = new Float32Array(channels * taps.length);
    for (let ch = 0; ch < channels; ch++) data.set(taps, ch * taps.length);
    filt = keep(Tensor.fromData(data, [channels, 1, filtSize, filtSize]));
    cache.set(key, filt);
  }
  return filt;
}

/** timm's BlurPool2d (Zhang 2019, "Making convolutional networks shift-invariant
 * again"): reflect-pad, then a depthwise binomial low-pass (3 taps: [1,2,1]^T [1,2,1] / 16)
 * at `stride`. The filter is a constant, non-persistent buffer in timm, so it is no
 * Param here: it is not in the state_dict walk and never loaded from a file. */
export class BlurPool2d extends Module {
  readonly type = 'BlurPool2d';
  readonly padding: number;

  constructor(
    readonly channels: number,
    readonly filtSize = 3,
    readonly stride = 2,
  ) {
    super();
    // timm's get_padding(filt_size, stride): ((stride - 1) + (filt_size - 1)) // 2, all four sides
    this.padding = Math.floor((stride - 1 + (filtSize - 1)) / 2);
  }

  forward(x: Dual): Dual {
    const p = this.padding;
    const padded = ops.pad(x, [p, p, p, p], 'reflect');
    return ops.conv2d(padded, blurFilter(this.channels, this.filtSize), null, { stride: this.stride, groups: this.channels });
  }
}
