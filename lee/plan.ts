import { LeeError } from '../engine/errors.js';
import type { HostTensor } from '../engine/safetensors.js';
import { architectureOf, buildModel, modelSpec, outputClasses, MODELS } from '../models/registry.js';
import { randomWeights } from '../models/init.js';
import { nameModules, uploadWeights, type Module } from '../models/module.js';
import type { CheckpointConfig } from '../models/checkpoint.js';
import type { Preprocess } from '../models/spec.js';
import { classInfo, type ClassInfo } from './labels.js';

// What a run's model is, decided on the host from weights already in memory: the CLI
// (files, hub cache) and the web page (dropped files, the hub in the browser) read
// the bytes their own way and meet here.

export const DEFAULT_MODEL = 'resnet18';
export const DEFAULT_SEED = 0;
/** The synthetic bundled images are small; a randomly initialised model runs them at 64 px. */
export const RANDOM_PREPROCESS: Partial<Preprocess> = { inputSize: [3, 64, 64], cropPct: 1 };
/** Images per forward pass of an e2e run; the demo's small models take 50 at once. */
export const E2E_BATCH = 8;
export const DEMO_E2E_BATCH = 50;
/** What reports say a random model's weights are. */
export const RANDOM_WEIGHTS = `random (seed ${DEFAULT_SEED}; not a trained model)`;

/** A model checked on the host, its weights not yet on the GPU. */
export interface ModelPlan {
  /** the module tree, named, with `tensors` checked against it */
  model: Module;
  tensors: Map<string, HostTensor>;
  /** the architecture */
  name: string;
  /** what reports call the model: the hub id, `arch.tag` from config.json, or the architecture */
  id: string;
  weights: string;
  preprocess: Preprocess;
  /** its classes, with names where config.json or ImageNet gives them */
  classes: ClassInfo;
  /** true when no weights were given: a seeded random model */
  random: boolean;
}

/** A checkpoint's weights (a timm state_dict) with its config.json, if it has one. */
export interface CheckpointWeights {
  tensors: Map<string, HostTensor>;
  config?: CheckpointConfig;
  /** what reports and errors call it: the hub id, the folder or the file */
  source: string;
  /** the hub id, as given, when it came from the hub */
  hubId?: string;
}

/** A registered architecture (or a timm name of one), or a LeeError that lists them. */
export function checkArch(arch: string, where: string): string {
  if (!architectureOf(arch)) {
    throw new LeeError(`${where} architecture '${arch}' is not supported by lee-gpu. Known: ${MODELS.map((m) => m.name).join(', ')}`);
  }
  return arch;
}

/** The model of a checkpoint, its weights checked against the architecture; nothing
 * touches the GPU, so a wrong file fails before it is opened. Preprocessing is the
 * architecture's timm eval config, overridden by config.json's pretrained_cfg;
 * `numHeads` overrides model_args. */
export function planCheckpoint(arch: string, ckpt: CheckpointWeights, numHeads?: number): ModelPlan {
  const spec = modelSpec(arch);
  const config = ckpt.config;
  const model = buildModel(arch, ckpt.tensors, ckpt.source, { numHeads: numHeads ?? config?.numHeads });
  const count = outputClasses(model);
  if (config?.numClasses !== undefined && config.numClasses !== count) {
    throw new LeeError(`${ckpt.source}: config.json says ${config.numClasses} classes but the weights' classifier has ${count}`);
  }
  const preprocess = { ...spec.preprocess, ...config?.preprocess };
  const id = ckpt.hubId ?? (config?.tag ? `${arch}.${config.tag}` : arch);
  return { model, tensors: ckpt.tensors, name: arch, id, weights: ckpt.source, preprocess, classes: classInfo(count, config?.labelNames), random: false };
}

/** The seeded, randomly initialised `arch` (clearly not a trained model), at 64 px when
 * it runs on the synthetic bundled images. */
export function planRandom(arch: string, numHeads?: number, onBundledImages = false): ModelPlan {
  const spec = modelSpec(arch);
  const shell = spec.build(undefined, { numHeads });
  nameModules(shell);
  const tensors = randomWeights(shell, DEFAULT_SEED);
  const model = buildModel(arch, tensors, 'random weights', { numHeads });
  const preprocess = onBundledImages ? { ...spec.preprocess, ...RANDOM_PREPROCESS } : spec.preprocess;
  return { model, tensors, name: arch, id: arch, weights: RANDOM_WEIGHTS, preprocess, classes: classInfo(outputClasses(model)), random: true };
}

/** Upload a planned model's weights (the GPU must be open); `disposeWeights` frees them. */
export function loadModel(plan: ModelPlan): Module {
  uploadWeights(plan.model, plan.tensors);
  return plan.model;
}

/** The bundled demo models (small timm models trained on Fashion-MNIST, each family once
 * on the images as they are, `-canonical`, and once with random shifts and rotations,
 * `-augmented`) in report order: family order, canonical first. */
export function demoOrder(ids: readonly string[]): string[] {
  const families = ['fmnist-resnet', 'fmnist-vit', 'fmnist-mixer', 'fmnist-convnext'];
  const family = (id: string) => id.replace(/-(canonical|augmented)$/, '');
  const rank = (id: string) => (families.indexOf(family(id)) + 1 || families.length + 1) * 2 + (id.endsWith('-canonical') ? 0 : 1);
  return [...ids].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
}
