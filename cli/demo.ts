import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LeeError } from '../engine/errors.js';
import { resolveModel } from './checkpoint.js';
import { checkImages, imageSource, planModel, type RunInputs } from './inputs.js';
import { listImages } from './images.js';
import { demoImages, demoModels } from './paths.js';
import { demoOrder } from '../lee/plan.js';

/** The bundled demo models' ids, in report order (`demoOrder`). */
export function demoIds(): string[] {
  const dir = demoModels();
  if (!existsSync(dir)) throw new LeeError(`the demo models are missing (${dir}); reinstall lee-gpu`);
  const ids = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'config.json')))
    .map((e) => e.name);
  return demoOrder(ids);
}

/** The demo's runs, all checked on the host: each demo model (or those in `ids`) on the
 * bundled Fashion-MNIST test images, labelled by their folders. */
export async function demoInputs(ids: readonly string[] = demoIds()): Promise<RunInputs[]> {
  const entries = await listImages([demoImages()]);
  await checkImages(entries);
  const runs: RunInputs[] = [];
  for (const id of ids) {
    const resolved = await resolveModel(undefined, join(demoModels(), id), 'resnet18', true);
    const plan = { ...(await planModel(resolved)), id };
    const source = await imageSource(entries, plan.preprocess, plan.classes);
    runs.push({ plan, source, input: 'assets/fashion-mnist' });
  }
  return runs;
}
