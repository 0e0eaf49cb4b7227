import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LeeError } from '../engine/errors.js';
import { resolveModel } from './checkpoint.js';
import { imageSource, planModel, type RunInputs } from './inputs.js';
import { listImages } from './images.js';
import { demoImages, demoModels } from './paths.js';

/** The bundled demo: small timm models trained on Fashion-MNIST, each family once on the
 * images as they are (`canonical`) and once with random shifts and rotations
 * (`augmented`), in family order, canonical first. */
export function demoIds(): string[] {
  const dir = demoModels();
  if (!existsSync(dir)) throw new LeeError(`the demo models are missing (${dir}); reinstall lee-gpu`);
  const order = (id: string) => (id.endsWith('-canonical') ? 0 : 1);
  const family = (id: string) => id.replace(/-(canonical|augmented)$/, '');
  const families = ['fmnist-resnet', 'fmnist-vit', 'fmnist-mixer', 'fmnist-convnext'];
  const rank = (id: string) => (families.indexOf(family(id)) + 1 || families.length + 1) * 2 + order(id);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'config.json')))
    .map((e) => e.name)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
}

/** The demo's runs, all checked on the host: each demo model (or those in `ids`) on the
 * bundled Fashion-MNIST test images, labelled by their folders. */
export async function demoInputs(ids: readonly string[] = demoIds()): Promise<RunInputs[]> {
  const entries = await listImages([demoImages()]);
  const runs: RunInputs[] = [];
  for (const id of ids) {
    const resolved = await resolveModel(undefined, join(demoModels(), id), 'resnet18', true);
    const plan = { ...(await planModel(resolved)), id };
    const source = await imageSource(entries, plan.preprocess, plan.classes);
    runs.push({ plan, source, input: 'assets/fashion-mnist' });
  }
  return runs;
}
