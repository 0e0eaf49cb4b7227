import type { Dual } from '../engine/dual.js';
import { Module, namedModules, type LayerLayouts } from './module.js';

/** One call of a layer: a leaf module (timm's `Attention` as one), or an operation
 * outside any module that a model names (ViT's `pos_embed` add, the Mixer's mean pool). */
export interface LayerCall {
  /** timm's dotted name; the k-th repeated call of one module is `name#k` */
  name: string;
  /** timm's class name, or the operation's name for a functional layer */
  type: string;
  layouts?: LayerLayouts;
  /** the axis along which the layer is one affine map at every position (Module.affineFeatureAxis) */
  affineFeatureAxis?: 1 | -1 | null;
}

/** Runs `fn` (the layer) on `x` and returns what the model should see as its output. */
export type LayerHook = (call: LayerCall, fn: (x: Dual) => Dual, x: Dual) => Dual;

let active: { hook: LayerHook; calls: Map<string, number>; watch: ReadonlySet<string> | null } | null = null;

function call(layer: LayerCall, fn: (x: Dual) => Dual, x: Dual): Dual {
  if (!active) return fn(x);
  const k = active.calls.get(layer.name) ?? 0;
  active.calls.set(layer.name, k + 1);
  const { hook } = active;
  return hook(k === 0 ? layer : { ...layer, name: `${layer.name}#${k}` }, fn, x);
}

/** Whether the active hook must see `m`'s calls or a layer inside it (any, when the hook
 * named none): a fusion that would hide them stays off. */
export function watched(m: Module): boolean {
  if (!active) return false;
  if (!active.watch) return true;
  for (const w of active.watch) if (w === m.name || w.startsWith(`${m.name}.`)) return true;
  return false;
}

/** A functional layer: `fn(x)`, seen by an active hook under `name`. `affineFeatureAxis`
 * as Module's, for an operation that is one affine map per position (the batch norm
 * inside timm's BatchNormAct2d). */
export function layerOp(
  name: string,
  type: string,
  fn: (x: Dual) => Dual,
  x: Dual,
  layouts?: LayerLayouts,
  affineFeatureAxis: 1 | -1 | null = null,
): Dual {
  return call({ name, type, layouts, affineFeatureAxis }, fn, x);
}

/** The modules that are layers: leaves (no child modules) and atomic modules, whose
 * descendants are then not layers. */
export function layerModules(root: Module): Module[] {
  const atomic: string[] = [];
  const out: Module[] = [];
  for (const [name, m] of namedModules(root)) {
    if (atomic.some((a) => name.startsWith(`${a}.`))) continue;
    const leaf = !m.entries().some(([, v]) => v instanceof Module);
    if (m.atomic) atomic.push(name);
    if (leaf || m.atomic) out.push(m);
  }
  return out;
}

/** Run `fn` with `hook` seeing every layer call of `root`'s forward, in call order (as
 * PyTorch forward hooks that may replace a module's output). Modules must be named
 * (`nameModules`); hooks do not nest. With `watch` (layer names, `#k` repeats included),
 * the hook needs only those layers: the others may run fused, unseen (folded BatchNorm). */
export function withLayerHook<T>(root: Module, hook: LayerHook, fn: () => T, watch?: Iterable<string>): T {
  if (active) throw new Error('withLayerHook: a layer hook is already active');
  const layers = layerModules(root);
  for (const m of layers) {
    const forward = m.forward.bind(m);
    const layer: LayerCall = { name: m.name, type: m.type, layouts: m.layouts, affineFeatureAxis: m.affineFeatureAxis };
    m.forward = (x: Dual) => call(layer, forward, x);
  }
  active = { hook, calls: new Map(), watch: watch ? new Set([...watch].map((n) => n.replace(/#\d+$/, ''))) : null };
  try {
    return fn();
  } finally {
    active = null;
    for (const m of layers) Reflect.deleteProperty(m, 'forward');
  }
}
