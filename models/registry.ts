import { LeeError } from '../engine/errors.js';
import type { HostTensor } from '../engine/safetensors.js';
import { checkWeights, uploadWeights, nameModules, namedParams, type Module } from './module.js';
import type { BuildOptions, ModelSpec } from './spec.js';
import { resnetSpecs } from './resnet.js';
import { vitSpecs } from './vit.js';
import { mixerSpecs } from './mixer.js';
import { convnextSpecs } from './convnext.js';
import { vggSpecs } from './vgg.js';
import { densenetSpecs } from './densenet.js';
import { efficientnetSpecs } from './efficientnet.js';

export const MODELS: ModelSpec[] = [
  ...resnetSpecs,
  ...vitSpecs,
  ...mixerSpecs,
  ...convnextSpecs,
  ...vggSpecs,
  ...densenetSpecs,
  ...efficientnetSpecs,
];

export function modelSpec(name: string): ModelSpec {
  const spec = MODELS.find((m) => m.name === name);
  if (!spec) {
    throw new LeeError(`unknown model '${name}'. Known models: ${MODELS.map((m) => m.name).join(', ')}`);
  }
  return spec;
}

/** Build `name` with sizes read from `weights`, check every key and shape, load them
 * onto the GPU. The weights are the model's (`disposeWeights` frees them), even when
 * this runs inside a `tidy`. */
export function createModel(name: string, weights: Map<string, HostTensor>, source = 'weights', options: BuildOptions = {}): Module {
  const model = buildModel(name, weights, source, options);
  uploadWeights(model, weights);
  return model;
}

/** `createModel` without the upload: the module tree, named, with `weights` checked
 * against it. Host only, so a bad checkpoint fails before the GPU is opened. */
export function buildModel(name: string, weights: Map<string, HostTensor>, source = 'weights', options: BuildOptions = {}): Module {
  const spec = modelSpec(name);
  let model: Module;
  try {
    model = spec.build(weights, options);
  } catch (e) {
    if (e instanceof LeeError) throw new LeeError(`${source} are not a ${name} state_dict: ${e.message}`);
    throw e;
  }
  nameModules(model);
  checkWeights(model, weights, source);
  return model;
}

/** Learnable parameters as timm and torchvision count them: BatchNorm's running
 * statistics are buffers, not parameters. */
export function parameterCount(model: Module): number {
  let n = 0;
  for (const [key, p] of namedParams(model)) {
    if (!/running_(mean|var)$/.test(key)) n += p.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

/** The classes a built model outputs: its head's width, 0 for a features-only state_dict.
 * Every top-level model keeps its config, and the config its classes. */
export function outputClasses(model: Module): number {
  const c = (model as Module & { config?: { numClasses?: unknown } }).config?.numClasses;
  if (typeof c !== 'number') throw new Error(`${model.type} does not record its number of classes`);
  return c;
}
