import type { AdapterSummary } from '../engine/device.js';
import { e2eModelJson } from '../lee/report.js';
import type { LabelledSource } from '../lee/sources.js';
import { VERSION } from '../index.js';
import type { ModelSet } from './model.js';
import type { ModelRun, RunSettings } from './run.js';

/** A finished e2e run of the page: what its tables and downloads are made from. */
export interface Finished {
  set: ModelSet;
  runs: ModelRun[];
  sources: LabelledSource[];
  settings: RunSettings;
  /** what the JSON's `input` says: the bundled images' name, the file names */
  input: string | string[];
}

/** Save `data` as a file called `name` (the browser's download). */
export function download(name: string, data: string | Uint8Array<ArrayBuffer>, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The CSV rows of runs, as `lee e2e --out` makes them. */
export const csvRows = (runs: readonly ModelRun[]) => runs.map((r) => ({ model: r.plan.id, images: r.result.images, predictions: r.predictions, extra: [] }));

/** The JSON `lee e2e --json` writes, with the browser's adapter and version. */
export function e2eJson(f: Finished, adapter: AdapterSummary | null): string {
  const { interp, transforms, batch } = f.settings;
  const common = { interp, transforms, batch, adapter, versions: { 'lee-gpu': VERSION, browser: navigator.userAgent } };
  const perModel = f.runs.map((r) =>
    e2eModelJson({ model: r.plan.id, architecture: r.plan.name, weights: r.plan.weights, input: f.input, preprocess: r.plan.preprocess, result: r.result, predictions: r.predictions, extra: [] }, transforms),
  );
  const body = f.set.demo ? { demo: true, ...common, models: perModel } : { ...perModel[0]!, ...common };
  return JSON.stringify(body, null, 2);
}
