import { Tensor, tidy } from '../engine/tensor.js';
import { dual } from '../engine/dual.js';
import { runtime } from '../engine/runtime.js';
import { interleavedMediansMs } from '../engine/bench.js';
import { profileByFamily, summariseProfile, TRANSFER_KEYS, type KernelProfileRow } from '../engine/profile.js';
import { Rng } from '../engine/random.js';
import { GENERATORS } from './transforms.js';
import { lieDerivatives, type Classifier } from './lie.js';
import { layerwise } from './layerwise.js';
import type { Module } from '../models/module.js';

/** The benchmarks' input: a seeded normal batch [batch, 3, size, size]. */
function seededImages(size: number, batch: number): Tensor {
  return Tensor.fromData(Float32Array.from(new Rng(1).normals(batch * 3 * size * size)), [batch, 3, size, size]);
}

export interface ModelTiming {
  size: number;
  batch: number;
  forward_ms: number;
  lie10_ms: number;
  /** lie10_ms / forward_ms: all ten generators in one pass, against one plain forward */
  ratio: number;
  images_per_s: number;
}

/** SPEC 8: one forward pass against the Lie derivatives of all ten generators in one
 * forward-mode pass, same model, input and adapter. Medians after a warm-up run, the
 * two timed in turn. */
export async function benchModel(model: Classifier, size: number, batch: number, repeats = 3): Promise<ModelTiming> {
  const x = seededImages(size, batch);
  try {
    const [forward_ms, lie10_ms] = (await interleavedMediansMs(
      [() => tidy(() => void model.forward(dual(x))), () => tidy(() => void lieDerivatives(model, x, { transforms: GENERATORS }))],
      repeats,
    )) as [number, number];
    return { size, batch, forward_ms, lie10_ms, ratio: lie10_ms / forward_ms, images_per_s: (1000 * batch) / lie10_ms };
  } finally {
    x.dispose();
  }
}

export interface LayerwiseTiming {
  /** the second run, as forward_ms and lie10_ms are taken after a warm-up */
  layerwise_ms: number;
  /** the first run: pipelines compiled and the pool's buffers allocated on the way */
  layerwise_first_ms: number;
  layers: number;
  /** forward passes of the run: the end-to-end one, then one per chunk of layers */
  passes: number;
}

/** Layerwise attribution (translate_x, default passes) on the same seeded input as
 * `benchModel`: two runs, each timed once, as each takes many forward passes. */
export async function benchLayerwise(model: Module, size: number, batch: number): Promise<LayerwiseTiming> {
  const x = seededImages(size, batch);
  try {
    await runtime().sync();
    let passes = 0;
    const timed = async () => {
      const t0 = globalThis.performance.now();
      const r = await layerwise(model, x, { transform: 'translate_x', onPass: (_, total) => (passes = total) });
      return { ms: globalThis.performance.now() - t0, layers: r.layers.length };
    };
    const first = await timed();
    const { ms, layers } = await timed();
    return { layerwise_ms: ms, layerwise_first_ms: first.ms, layers, passes };
  } finally {
    x.dispose();
  }
}

export interface PassProfile {
  /** GPU time summed over the pass's dispatches and transfers */
  gpu_ms: number;
  dispatches: number;
  /** buffer copies and clears (families `copy`, `clear`), timed between empty passes */
  transfers: number;
  families: KernelProfileRow[];
  variants: KernelProfileRow[];
}

/** Per-dispatch (and per-copy) GPU times (timestamp queries) of one forward and of the
 * ten-generator Lie derivative pass, summed per op family and per kernel variant (after
 * a warm-up, so pipeline compilation is not in them). */
export async function profileModel(model: Classifier, size: number, batch: number): Promise<{ forward: PassProfile; lie10: PassProfile }> {
  const rt = runtime();
  const x = seededImages(size, batch);
  const passes = {
    forward: () => tidy(() => void model.forward(dual(x))),
    lie10: () => tidy(() => void lieDerivatives(model, x, { transforms: GENERATORS })),
  };
  try {
    const out: Partial<Record<keyof typeof passes, PassProfile>> = {};
    for (const [name, run] of Object.entries(passes) as [keyof typeof passes, () => void][]) {
      run();
      await rt.sync();
      rt.startProfile();
      try {
        run();
      } catch (e) {
        await rt.stopProfile();
        throw e;
      }
      const times = await rt.stopProfile();
      const variants = summariseProfile(times);
      const transfers = times.filter((t) => TRANSFER_KEYS.includes(t.key)).length;
      out[name] = { gpu_ms: times.reduce((a, t) => a + t.ns, 0) / 1e6, dispatches: times.length - transfers, transfers, families: profileByFamily(variants), variants };
    }
    return out as { forward: PassProfile; lie10: PassProfile };
  } finally {
    x.dispose();
  }
}
