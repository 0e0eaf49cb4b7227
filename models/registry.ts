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
import { inceptionV3Specs } from './inception_v3.js';
import { inceptionV4Specs } from './inception_v4.js';
import { inceptionResnetV2Specs } from './inception_resnet_v2.js';
import { resmlpSpecs } from './resmlp.js';
import { convmixerSpecs } from './convmixer.js';
import { convitSpecs } from './convit.js';
import { resolveName } from './names.js';

export const MODELS: ModelSpec[] = [
  ...resnetSpecs,
  ...vitSpecs,
  ...mixerSpecs,
  ...convnextSpecs,
  ...vggSpecs,
  ...densenetSpecs,
  ...efficientnetSpecs,
  ...inceptionV3Specs,
  ...inceptionV4Specs,
  ...inceptionResnetV2Specs,
  ...resmlpSpecs,
  ...convmixerSpecs,
  ...convitSpecs,
];

const architecture = (name: string) => MODELS.find((m) => m.name === name);

/** The architecture `name` runs: a registered one by name, or through its timm name
 * (models/names.ts: `resnet50.tv_in1k`, or a timm 0.6 name such as `tv_resnet50`);
 * undefined for a name that leads nowhere lee-gpu knows. */
export function architectureOf(name: string): string | undefined {
  if (architecture(name)) return name;
  const arch = resolveName(name)?.arch;
  return arch && architecture(arch) ? arch : undefined;
}

/** The spec of a registered architecture, or of a timm name of one: the architecture's,
 * under the given name and with timm's eval preprocessing of its tag. */
export function modelSpec(name: string): ModelSpec {
  const spec = architecture(name);
  if (spec) return spec;
  const resolved = resolveName(name);
  const base = resolved && architecture(resolved.arch);
  if (!resolved || !base) {
    const what = resolved ? `'${name}' is timm's ${resolved.timm}, an architecture lee-gpu does not support yet` : `unknown model '${name}'`;
    throw new LeeError(`${what}. Known models: ${MODELS.map((m) => m.name).join(', ')} (and their timm names: lee models)`);
  }
  return { ...base, name, preprocess: resolved.preprocess };
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
