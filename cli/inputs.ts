import { LeeError } from '../engine/errors.js';
import { loadSafetensors } from '../engine/safetensors.js';
import type { HostTensor } from '../engine/safetensors.js';
import { readFile } from 'node:fs/promises';
import { buildModel, modelSpec, outputClasses } from '../models/registry.js';
import { randomWeights } from '../models/init.js';
import { nameModules, uploadWeights, type Module } from '../models/module.js';
import type { Preprocess } from '../models/spec.js';
import type { ImageSource } from '../lee/batches.js';
import type { Interp } from '../engine/ops/sample.js';
import { intFlag } from './args.js';
import { classInfo, folderClass, parseLabels, type ClassInfo } from '../lee/labels.js';
import { bundledImages, samplePhotos } from './paths.js';
import { checkImage, listImages, loadImage, type ImageEntry } from './images.js';
import { resolveModel, type ResolvedModel } from './checkpoint.js';

export const DEFAULT_MODEL = 'resnet18';
export const DEFAULT_SEED = 0;
/** The synthetic bundled images are small; a randomly initialised model runs them at 64 px. */
const RANDOM_PREPROCESS: Partial<Preprocess> = { inputSize: [3, 64, 64], cropPct: 1 };

/** A model checked on the host, its weights not yet on the GPU. */
export interface ModelPlan {
  /** the module tree, named, with `weights` checked against it */
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

/** The model of a run, its weights checked against the architecture; nothing touches
 * the GPU, so a wrong name or file fails before it is opened. Preprocessing is the
 * architecture's timm eval config, overridden by config.json's pretrained_cfg, or 64 px
 * for a random model on the synthetic images; --heads overrides model_args. */
export async function planModel(resolved: ResolvedModel, numHeads?: number, randomOnBundled = false): Promise<ModelPlan> {
  const { arch, checkpoint } = resolved;
  const spec = modelSpec(arch);
  const config = checkpoint?.config;
  const heads = numHeads ?? config?.numHeads;
  if (checkpoint) {
    const file = await loadSafetensors(checkpoint.file);
    const model = buildModel(arch, file.tensors, checkpoint.source, { numHeads: heads });
    const count = outputClasses(model);
    if (config?.numClasses !== undefined && config.numClasses !== count) {
      throw new LeeError(`${checkpoint.source}: config.json says ${config.numClasses} classes but the weights' classifier has ${count}`);
    }
    const preprocess = { ...spec.preprocess, ...config?.preprocess };
    const id = resolved.hubId ?? (config?.tag ? `${arch}.${config.tag}` : arch);
    return { model, tensors: file.tensors, name: arch, id, weights: checkpoint.source, preprocess, classes: classInfo(count, config?.labelNames), random: false };
  }
  const shell = spec.build(undefined, { numHeads: heads });
  nameModules(shell);
  const tensors = randomWeights(shell, DEFAULT_SEED);
  const model = buildModel(arch, tensors, 'random weights', { numHeads: heads });
  const preprocess = randomOnBundled ? { ...spec.preprocess, ...RANDOM_PREPROCESS } : spec.preprocess;
  const weights = `random (seed ${DEFAULT_SEED}; not a trained model)`;
  return { model, tensors, name: arch, id: arch, weights, preprocess, classes: classInfo(outputClasses(model)), random: true };
}

/** Upload a planned model's weights (the GPU must be open); `disposeWeights` frees them. */
export function loadModel(plan: ModelPlan): Module {
  uploadWeights(plan.model, plan.tensors);
  return plan.model;
}

/** `--input`: a safetensors file whose tensor `images` is [N, 3, H, W], already normalised. */
export async function inputSource(path: string): Promise<ImageSource> {
  const file = await loadSafetensors(path);
  const t = file.tensors.get('images');
  if (!t) throw new LeeError(`${path} has no tensor named 'images' (found: ${[...file.tensors.keys()].join(', ') || 'none'})`);
  if (t.shape.length !== 4 || t.shape[1] !== 3 || t.shape[0]! < 1 || t.shape[2]! < 2 || t.shape[3]! < 2) {
    throw new LeeError(`'images' in ${path} must be [N, 3, H, W] with N >= 1 and H, W >= 2, got [${t.shape.join(', ')}]`);
  }
  const bad = t.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new LeeError(`'images' in ${path} contains ${t.data[bad]} (at flat index ${bad}); inputs must be finite`);
  const [n, , h, w] = t.shape as [number, number, number, number];
  const per = 3 * h * w;
  return {
    names: Array.from({ length: n }, (_, i) => `${path}#${i}`),
    size: [h, w],
    load: async (start, end) => t.data.subarray(start * per, end * per),
  };
}

/** A run's images, with each one's class index where an ImageFolder tree gives it. */
export interface LabelledSource extends ImageSource {
  /** each image's class index, where its folder gives one */
  labels: (number | undefined)[];
}

/** `--images`: files or folders (ImageFolder trees labelled through `classes` and the
 * --labels names), decoded and preprocessed a batch at a time. */
export async function imageSource(entries: readonly ImageEntry[], pre: Preprocess, classes: ClassInfo, labels?: readonly string[]): Promise<LabelledSource> {
  const folderIndex = new Map<string, number>();
  for (const e of entries) if (e.folder !== undefined && !folderIndex.has(e.folder)) folderIndex.set(e.folder, folderClass(e.folder, classes, labels));
  for (const e of entries) await checkImage(e.path);
  const size = pre.inputSize[1];
  return {
    names: entries.map((e) => e.name),
    labels: entries.map((e) => (e.folder === undefined ? undefined : folderIndex.get(e.folder))),
    size: [size, size],
    load: async (start, end) => {
      const out = new Float32Array((end - start) * 3 * size * size);
      for (let i = start; i < end; i++) out.set(await loadImage(entries[i]!.path, pre), (i - start) * 3 * size * size);
      return out;
    },
  };
}

/** parseArgs options of the flags every model-on-images command shares. */
export const INPUT_OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  images: { type: 'string', multiple: true },
  input: { type: 'string' },
  interp: { type: 'string' },
  batch: { type: 'string' },
  labels: { type: 'string' },
  heads: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The flags every model-on-images command shares. */
export interface InputFlags {
  model?: string;
  weights?: string;
  images?: string[];
  input?: string;
  labels?: string;
  heads?: string;
  quiet?: boolean;
}

export interface RunInputs {
  plan: ModelPlan;
  source: LabelledSource;
  /** what ran, for reports: the --input file, the image paths, or the bundled images */
  input: string | string[];
}

/** No model, weights or images given: the command runs its embedded demo. */
export const isDemoRun = (flags: InputFlags): boolean => !flags.model && !flags.weights && !flags.input && !flags.images?.length;

/** The model and images of a run, validated on the host before the GPU is opened:
 * a hub id, a checkpoint folder or file, or a seeded random model; --input, --images
 * (also as trailing arguments) or the bundled images (the sample photos for a trained
 * model, the synthetic images at 64 px for a random one). Notes about random weights go
 * to stderr even with --quiet: a result from them must never pass for a real one. */
export async function prepareInputs(command: string, flags: InputFlags, positionals: readonly string[]): Promise<RunInputs> {
  const images = [...(flags.images ?? []), ...positionals];
  if (positionals.length && !flags.images) throw new LeeError(`${command}: unexpected argument '${positionals[0]}' (image paths go after --images)`);
  if (flags.input && images.length) throw new LeeError(`${command}: give --images or --input, not both`);
  if (flags.labels && flags.input) throw new LeeError(`${command}: --labels names ImageFolder classes; it does not apply to --input`);
  const heads = flags.heads === undefined ? undefined : intFlag(flags.heads, 'heads', 1);
  // the cheap checks first: that the files are there, before a checkpoint is fetched or read
  const labels = flags.labels ? parseLabels(await readText(flags.labels), flags.labels) : undefined;
  const given = images.length ? await listImages(images) : undefined;
  const input = flags.input ? await inputSource(flags.input) : undefined;
  const resolved = await resolveModel(flags.model, flags.weights, DEFAULT_MODEL, !!flags.quiet);
  const bundled = !input && !given;
  const random = !resolved.checkpoint;
  const plan = await planModel(resolved, heads, bundled && random);
  const entries = given ?? (await listImages([random ? bundledImages() : samplePhotos()]));
  const source = input ? { ...input, labels: input.names.map(() => undefined) } : await imageSource(entries, plan.preprocess, plan.classes, labels);
  if (plan.random) console.error(`note: ${plan.name} with RANDOM weights (seed 0), not a trained model; pass --weights or a hub id for real results`);
  if (bundled) console.error(`note: the ${source.names.length} bundled ${random ? 'synthetic images (assets/images)' : 'sample photos (assets/photos)'} at ${source.size[0]} px`);
  return { plan, source, input: flags.input ?? (bundled ? (random ? 'bundled images' : 'sample photos') : images) };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new LeeError(`cannot read ${path}: no such file`);
  }
}

export function interpFlag(value: string | undefined): Interp {
  const interp = value ?? 'bilinear';
  if (interp !== 'bilinear' && interp !== 'bicubic') throw new LeeError(`--interp must be bilinear or bicubic, got '${value}'`);
  return interp;
}
