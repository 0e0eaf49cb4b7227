import { LeeError } from '../engine/errors.js';
import type { HostTensor } from '../engine/safetensors.js';
import { Tensor, keep, type Shape } from '../engine/tensor.js';
import type { Dual } from '../engine/dual.js';

/** A weight slot: its expected shape, and its GPU tensor once loaded. */
export class Param {
  tensor: Tensor | null = null;
  constructor(readonly shape: Shape) {}

  get value(): Tensor {
    if (!this.tensor) throw new Error('parameter used before weights were loaded');
    return this.tensor;
  }
}

export const param = (...shape: number[]): Param => new Param(shape);

/** How a layer's input or output holds an image where its shape alone does not say
 * (SPEC 5.4): channels-last maps (`bhwc`), tokens on the last axis [B, C, N]
 * (`tokens_last`: the Mixer's token MLP), or not image-like at all (`none`: hidden
 * units that merely happen to have a square count). */
export type LayoutHint = 'bhwc' | 'tokens_last' | 'none';

export interface LayerLayouts {
  input?: LayoutHint;
  output?: LayoutHint;
}

/** A layer with timm's name. Fields that are Params, Modules or arrays of Modules are
 * its weights and children, named by their field names (arrays by index), so the
 * object tree spells timm's state_dict keys. */
export abstract class Module {
  /** timm's dotted path (`layer1.0.conv2`), set by `nameModules`. */
  name = '';

  /** Set by the parent where the shape of this layer's input or output is ambiguous. */
  layouts: LayerLayouts | undefined = undefined;

  abstract forward(x: Dual): Dual;

  /** true for a module with children that timm's layerwise attribution counts as ONE
   * layer (timm's `Attention`); its children are then not layers of their own. */
  get atomic(): boolean {
    return false;
  }

  /** For a layer that applies one affine map to the feature vector along this axis, the
   * same at every other index (eval BatchNorm and 1x1 stride-1 convolutions: axis 1;
   * nn.Linear: the last axis); null otherwise. Where that axis holds a map's channels,
   * the layer commutes with every resampling of its positions. */
  get affineFeatureAxis(): 1 | -1 | null {
    return null;
  }

  /** timm's class name for reports (`Conv2d`, `Attention`), spelled out in every class:
   * a minifier renames classes, so `constructor.name` would not survive a web build. */
  abstract readonly type: string;

  /** In a Sequential, `next` takes this layer's output and nothing else does: a layer
   * that can fuse with it says so here (Conv2d + BatchNorm2d). */
  pairWithNext(_next: Module): void {}

  /** Whether this layer followed by `next` runs as one fused layer in a Sequential. */
  thenFolds(_next: Module): boolean {
    return false;
  }

  /** This layer then `next` (see `thenFolds`). */
  forwardFoldingNext(next: Module, x: Dual): Dual {
    return next.forward(this.forward(x));
  }

  /** Make what this layer derives from its weights (a folded copy), once they are loaded. */
  prepareDerived(): void {}

  /** Free tensors made from this layer's weights (a folded copy); weights stay. */
  disposeDerived(): void {}

  /** Direct children and weights, by field name, in declaration order. */
  entries(): [string, Module | Param][] {
    const out: [string, Module | Param][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module || value instanceof Param) out.push([key, value]);
      else if (Array.isArray(value)) {
        value.forEach((v, i) => {
          if (v instanceof Module || v instanceof Param) out.push([`${key}.${i}`, v]);
        });
      }
    }
    return out;
  }
}

/** A list of modules applied in order, named 0, 1, ... like nn.Sequential. */
export class Sequential extends Module {
  readonly type = 'Sequential';
  readonly items: Module[];
  constructor(items: Module[]) {
    super();
    this.items = items;
    // a conv straight into an eval BatchNorm folds into it (models/fold.ts)
    for (let i = 0; i + 1 < items.length; i++) items[i]!.pairWithNext(items[i + 1]!);
  }
  override entries(): [string, Module | Param][] {
    return this.items.map((m, i) => [String(i), m]);
  }
  forward(x: Dual): Dual {
    for (let i = 0; i < this.items.length; i++) {
      const m = this.items[i]!;
      const next = this.items[i + 1];
      if (next && m.thenFolds(next)) {
        x = m.forwardFoldingNext(next, x);
        i++;
      } else x = m.forward(x);
    }
    return x;
  }
}

/** Every parameter under its state_dict key. */
export function namedParams(root: Module, prefix = ''): Map<string, Param> {
  const out = new Map<string, Param>();
  for (const [key, v] of root.entries()) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v instanceof Param) out.set(path, v);
    else for (const [k, p] of namedParams(v, path)) out.set(k, p);
  }
  return out;
}

/** Every module under its dotted name, parents before children. */
export function namedModules(root: Module, prefix = ''): [string, Module][] {
  const out: [string, Module][] = [];
  for (const [key, v] of root.entries()) {
    if (!(v instanceof Module)) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    out.push([path, v], ...namedModules(v, path));
  }
  return out;
}

export function nameModules(root: Module): void {
  root.name = '';
  for (const [name, m] of namedModules(root)) m.name = name;
}

/** Keys that timm's state_dict holds but that carry no weights we use. */
const IGNORED = /(^|\.)num_batches_tracked$/;

/** Check every key and shape of a state_dict against the module tree (host only, so
 * a wrong file fails before the GPU is opened). Missing, unexpected and mis-shaped keys
 * are listed together in one error. */
export function checkWeights(root: Module, tensors: Map<string, HostTensor>, source = 'weights'): void {
  const params = namedParams(root);
  const missing: string[] = [];
  const misshaped: string[] = [];
  for (const [key, p] of params) {
    const t = tensors.get(key);
    if (!t) missing.push(key);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      misshaped.push(`${key}: file has [${t.shape.join(', ')}], model expects [${p.shape.join(', ')}]`);
    }
  }
  const unexpected = [...tensors.keys()].filter((k) => !params.has(k) && !IGNORED.test(k));
  if (missing.length || unexpected.length || misshaped.length) {
    const list = (title: string, keys: string[]) =>
      keys.length ? `\n  ${title} (${keys.length}): ${keys.slice(0, 12).join(', ')}${keys.length > 12 ? ', ...' : ''}` : '';
    throw new LeeError(
      `${source} do not match the model${list('missing keys', missing)}${list('unexpected keys', unexpected)}${list('mis-shaped', misshaped)}`,
    );
  }
}

/** Check the weights, then upload them. They belong to the model, not to any open
 * `tidy`: `disposeWeights` is the one way they are freed. */
export function loadWeights(root: Module, tensors: Map<string, HostTensor>, source = 'weights'): void {
  checkWeights(root, tensors, source);
  uploadWeights(root, tensors);
}

/** Upload weights already checked with `checkWeights` (owned by the model, as above). */
export function uploadWeights(root: Module, tensors: Map<string, HostTensor>): void {
  for (const [key, p] of namedParams(root)) {
    p.tensor?.dispose();
    p.tensor = keep(Tensor.fromData(tensors.get(key)!.data, p.shape));
  }
  // derived weights are made here, so a model's memory is what it holds after loading
  root.prepareDerived();
  for (const [, m] of namedModules(root)) m.prepareDerived();
}

/** Free every loaded weight of the tree. */
export function disposeWeights(root: Module): void {
  root.disposeDerived();
  for (const [, m] of namedModules(root)) m.disposeDerived();
  for (const p of namedParams(root).values()) {
    p.tensor?.dispose();
    p.tensor = null;
  }
}
