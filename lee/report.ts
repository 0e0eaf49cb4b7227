import { COLUMN, GENERATORS } from './transforms.js';
import type { E2EImageResult, E2EResult } from './e2e.js';
import { topOneAccuracy, type Prediction } from './labels.js';
import type { Generator } from './transforms.js';
import type { Preprocess } from '../models/spec.js';
import { encodeSafetensors } from '../engine/safetensors.js';

/** The mean-squared (Eq. 4) variant of a generator's column. */
export const msqColumn = (column: string): string => column.replace(/_(deriv|err)$/, '_$1_msq');

/** The prediction columns: top-1 class index and name, and for labelled images the
 * label and the paper's acc (top-1 correct, 0/1). */
export const PREDICTION_COLUMNS = ['top1', 'top1_name', 'label', 'acc'] as const;

/** CSV header: image, model, the seed's columns in its order, ours, then the
 * mean-squared variants, the predictions, then any extra (sample-based) metrics. */
export function e2eColumns(extra: readonly string[] = []): string[] {
  const mean = GENERATORS.map((g) => COLUMN[g]);
  return ['image', 'model', ...mean, ...mean.map(msqColumn), ...PREDICTION_COLUMNS, ...extra];
}

/** A CSV field: numbers as JavaScript prints them (empty when not finite), text quoted
 * where it must be. */
export function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One model's rows of an e2e CSV, without the header. */
export interface E2ERows {
  model: string;
  images: readonly E2EImageResult[];
  predictions: readonly Prediction[];
  extra?: readonly Record<string, number>[];
}

/** One row per image (of every model given); generators that were not requested and
 * labels that are not known stay empty. */
export function e2eCsv(runs: readonly E2ERows[]): string {
  const first = runs.find((r) => r.extra?.length)?.extra?.[0];
  const extraNames = first ? Object.keys(first) : [];
  const lines = [e2eColumns(extraNames).join(',')];
  for (const run of runs) {
    run.images.forEach((r, i) => {
      const p = run.predictions[i];
      const values = [
        r.image,
        run.model,
        ...GENERATORS.map((g) => r.meanAbs[g]),
        ...GENERATORS.map((g) => r.meanSq[g]),
        p?.top1,
        p?.top1Name,
        p?.label,
        p?.acc,
        ...extraNames.map((k) => run.extra?.[i]?.[k]),
      ];
      lines.push(values.map(csvCell).join(','));
    });
  }
  return lines.join('\n') + '\n';
}

/** Top-1 accuracy over the labelled images, or undefined when none is labelled. */
export function labelledAccuracy(preds: readonly Prediction[]): { correct: number; labelled: number } | undefined {
  const a = topOneAccuracy(
    preds.map((p) => p.top1),
    preds.map((p) => p.label),
  );
  return a.labelled ? a : undefined;
}

/** Mean over images of a generator's mean |L p|. */
export function meanOverImages(images: readonly E2EImageResult[], g: Generator): number {
  return images.reduce((a, r) => a + (r.meanAbs[g] ?? NaN), 0) / images.length;
}

/** One model's e2e run, as reports describe it. */
export interface E2EModelReport {
  model: string;
  architecture: string;
  weights: string;
  input: string | string[];
  preprocess: Preprocess;
  result: E2EResult;
  predictions: readonly Prediction[];
  extra: readonly Record<string, number>[];
}

/** The JSON of one model's run (lee e2e --json; the CLI adds adapter and versions):
 * settings, accuracy, per-generator means, timings and every image's values. */
export function e2eModelJson(r: E2EModelReport, gens: readonly Generator[]) {
  const acc = labelledAccuracy(r.predictions);
  return {
    model: r.model,
    architecture: r.architecture,
    weights: r.weights,
    input: r.input,
    preprocess: r.preprocess,
    classes: r.result.classes,
    ...(acc ? { top1_accuracy: acc.correct / acc.labelled, labelled_images: acc.labelled } : {}),
    mean_abs: Object.fromEntries(gens.map((g) => [COLUMN[g], meanOverImages(r.result.images, g)])),
    timings: { total_s: r.result.seconds, images_per_s: r.result.images.length / r.result.seconds },
    columns: Object.fromEntries(gens.map((g) => [g, COLUMN[g]])),
    images: r.result.images.map((img, i) => ({ ...img, ...r.predictions[i], ...(r.extra[i] ? { sample_metrics: r.extra[i] } : {}) })),
  };
}

/** The raw safetensors of e2e runs (lee e2e --raw): `logits`, `probs` and
 * `lie.<generator>` [N, classes] per model, each key prefixed `<model>.` when `prefixed`
 * (the demo's several models). */
export function e2eRaw(runs: readonly { model: string; result: E2EResult }[], interp: string, prefixed: boolean): Uint8Array<ArrayBuffer> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const { model, result } of runs) {
    const prefix = prefixed ? `${model}.` : '';
    const shape = [result.images.length, result.classes];
    tensors[`${prefix}logits`] = { shape, data: result.logits };
    tensors[`${prefix}probs`] = { shape, data: result.probs };
    for (const [g, v] of result.lie) tensors[`${prefix}lie.${g}`] = { shape, data: v };
  }
  return encodeSafetensors(tensors, { model: runs.map((r) => r.model).join(','), interp });
}
