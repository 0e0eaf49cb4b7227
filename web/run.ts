import { Tensor, tidy } from '../engine/tensor.js';
import type { Interp } from '../engine/ops/sample.js';
import { disposeWeights, type Module } from '../models/module.js';
import { runE2E, type E2EResult } from '../lee/e2e.js';
import { imageTangents } from '../lee/lie.js';
import { runLayerwise, type LayerwiseRun } from '../lee/layerwise.js';
import { predictions, type Prediction } from '../lee/labels.js';
import { loadModel, type ModelPlan } from '../lee/plan.js';
import type { LabelledSource } from '../lee/sources.js';
import type { Generator } from '../lee/transforms.js';

// The page's runs: the same lee/ calls `lee e2e` and `lee layerwise` make.

export interface RunSettings {
  transforms: readonly Generator[];
  interp: Interp;
  batch: number;
}

export interface ModelRun {
  plan: ModelPlan;
  result: E2EResult;
  predictions: Prediction[];
}

/** Images done of all, per model in turn: `model` is its index. */
export type RunProgress = (model: number, done: number, total: number) => void;

/** The models on the GPU: those the page shows stay there until others replace them
 * (so switching frees the old ones first); any other plan is uploaded for its run only. */
export class Resident {
  private held: { plan: ModelPlan; model: Module }[] = [];

  /** Make `plans` the resident models (freeing the previous ones first). */
  hold(plans: readonly ModelPlan[]): void {
    this.release();
    for (const plan of plans) this.held.push({ plan, model: loadModel(plan) });
  }

  release(): void {
    for (const { model } of this.held) disposeWeights(model);
    this.held = [];
  }

  /** Run `fn` on `plan`'s model: a resident one (a plan may be a copy with other
   * preprocessing), or uploaded for the call and freed after. */
  async with<T>(plan: ModelPlan, fn: (model: Module) => Promise<T>): Promise<T> {
    const held = this.held.find((h) => h.plan.model === plan.model);
    if (held) return fn(held.model);
    const model = loadModel(plan);
    try {
      return await fn(model);
    } finally {
      disposeWeights(model);
    }
  }
}

/** End-to-end Lie derivatives of every plan on its images (the sources follow the plans). */
export async function runModels(
  resident: Resident,
  plans: readonly ModelPlan[],
  sources: readonly LabelledSource[],
  settings: RunSettings,
  signal: AbortSignal,
  onProgress: RunProgress,
): Promise<ModelRun[]> {
  const runs: ModelRun[] = [];
  for (const [i, plan] of plans.entries()) {
    const source = sources[i]!;
    const result = await resident.with(plan, (model) =>
      runE2E(model, source, { ...settings, signal, onProgress: (done, total) => onProgress(i, done, total) }),
    );
    runs.push({ plan, result, predictions: predictions(result.logits, plan.classes, source.labels) });
  }
  return runs;
}

/** The ten tangent images G x of images [n, 3, H, W] (host), as [gens, n, 3, H, W]. */
export async function tangentImages(images: Float32Array, n: number, size: [number, number], gens: readonly Generator[], interp: Interp): Promise<Float32Array> {
  const [h, w] = size;
  const t = tidy(() => imageTangents(Tensor.fromData(images, [n, 3, h, w]), gens, interp));
  try {
    return await t.read();
  } finally {
    t.dispose();
  }
}

/** `lee layerwise` on one plan: every layer's contribution for one generator. */
export async function runLayers(
  resident: Resident,
  plan: ModelPlan,
  source: LabelledSource,
  transform: Generator,
  settings: { interp: Interp; batch: number },
  signal: AbortSignal,
  onProgress: (done: number, total: number) => void,
): Promise<LayerwiseRun> {
  return resident.with(plan, (model) => runLayerwise(model, source, { transform, interp: settings.interp, batch: settings.batch, signal, onProgress }));
}
