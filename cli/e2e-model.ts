import { describeAdapter } from '../engine/device.js';
import type { Runtime } from '../engine/runtime.js';
import type { Interp } from '../engine/ops/sample.js';
import { disposeWeights } from '../models/module.js';
import { runE2E, type E2EResult } from '../lee/e2e.js';
import { predictions, type Prediction } from '../lee/labels.js';
import { DEFAULT_SAMPLES, runSampleMetrics } from '../lee/metrics.js';
import { e2eCsv, e2eModelJson } from '../lee/report.js';
import type { Generator } from '../lee/transforms.js';
import { VERSION } from '../index.js';
import { loadModel, type RunInputs } from './inputs.js';
import { progress } from './progress.js';

/** How `lee e2e` (and each model of `lee sweep`) runs a model on its images. */
export interface E2ESettings {
  transforms: readonly Generator[];
  interp: Interp;
  batch: number;
  /** the sample-based metrics too (--sample-metrics), with their seed and draws */
  sampleMetrics?: { seed: number; samples?: number };
}

/** One model's finished e2e run. */
export interface ModelRun extends RunInputs {
  result: E2EResult;
  extra: Record<string, number>[];
  predictions: Prediction[];
}

/** Run one planned model: weights onto the GPU, every image's Lie derivatives (and the
 * sample-based metrics if asked), weights freed whatever happens. */
export async function runModelE2E(run: RunInputs, s: E2ESettings, label: string, quiet: boolean): Promise<ModelRun> {
  const { plan, source } = run;
  const model = loadModel(plan);
  let result, extra;
  try {
    result = await runE2E(model, source, { transforms: s.transforms, interp: s.interp, batch: s.batch, onProgress: progress(label, quiet) });
    const m = s.sampleMetrics;
    extra = m ? await runSampleMetrics(model, source, { batch: s.batch, seed: m.seed, samples: m.samples, onProgress: progress('sample metrics', quiet) }) : [];
  } finally {
    disposeWeights(model);
  }
  return { ...run, result, extra, predictions: predictions(result.logits, plan.classes, source.labels) };
}

/** The `--out` CSV of runs, one row per image of each. */
export const runsCsv = (runs: readonly ModelRun[]): string =>
  e2eCsv(runs.map((d) => ({ model: d.plan.id, images: d.result.images, predictions: d.predictions, extra: d.extra })));

/** A run's part of the `--json` file: settings, accuracy, means, timings, every image. */
export const runJson = (d: ModelRun, s: E2ESettings) =>
  e2eModelJson({ model: d.plan.id, architecture: d.plan.name, weights: d.plan.weights, input: d.input, preprocess: d.plan.preprocess, result: d.result, predictions: d.predictions, extra: d.extra }, s.transforms);

/** What every `--json` file records about how it was made: interpolation, generators,
 * batch, adapter, versions, and the sample-based metrics' seed and draws. */
export function settingsJson(rt: Runtime, s: E2ESettings) {
  const adapter = describeAdapter(rt.adapter);
  const common = { interp: s.interp, transforms: s.transforms, batch: s.batch, adapter, versions: { 'lee-gpu': VERSION, node: process.version } };
  const m = s.sampleMetrics;
  return m ? { ...common, sample_metrics: { seed: m.seed, samples: m.samples ?? DEFAULT_SAMPLES } } : common;
}
