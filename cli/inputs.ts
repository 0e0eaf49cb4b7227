import { LeeError } from '../engine/errors.js';
import { loadSafetensors } from '../engine/safetensors.js';
import type { HostTensor } from '../engine/safetensors.js';
import { buildModel, modelSpec } from '../models/registry.js';
import { randomWeights } from '../models/init.js';
import { nameModules, uploadWeights, type Module } from '../models/module.js';
import type { Preprocess } from '../models/spec.js';
import type { ImageSource } from '../lee/batches.js';
import type { Interp } from '../engine/ops/sample.js';
import { intFlag } from './args.js';
import { bundledImages } from './paths.js';
import { checkImage, imageName, listImages, loadImage } from './images.js';

export const DEFAULT_MODEL = 'resnet18';
export const DEFAULT_SEED = 0;
/** The bundled images are small; the randomly initialised default runs them at 64 px. */
const DEFAULT_PREPROCESS: Partial<Preprocess> = { inputSize: [3, 64, 64], cropPct: 1 };

/** A model checked on the host, its weights not yet on the GPU. */
export interface ModelPlan {
  /** the module tree, named, with `weights` checked against it */
  model: Module;
  tensors: Map<string, HostTensor>;
  name: string;
  weights: string;
  preprocess: Preprocess;
  /** true when no weights were given: a seeded random model */
  random: boolean;
}

/** The preprocessing of a run: the model's timm eval config, or 64 px for the seeded
 * random default on the bundled images. */
export function runPreprocess(name: string | undefined, weights: string | undefined, defaultImages: boolean): Preprocess {
  const pre = modelSpec(name ?? DEFAULT_MODEL).preprocess;
  return !weights && defaultImages ? { ...pre, ...DEFAULT_PREPROCESS } : pre;
}

/** The model of a run, its weights checked against the architecture; nothing touches
 * the GPU, so a wrong name or file fails before it is opened. */
export async function planModel(name: string | undefined, weights: string | undefined, preprocess?: Preprocess, numHeads?: number): Promise<ModelPlan> {
  const arch = name ?? DEFAULT_MODEL;
  const spec = modelSpec(arch);
  if (weights) {
    const file = await loadSafetensors(weights);
    const model = buildModel(arch, file.tensors, weights, { numHeads });
    return { model, tensors: file.tensors, name: arch, weights, preprocess: preprocess ?? spec.preprocess, random: false };
  }
  const shell = spec.build(undefined, { numHeads });
  nameModules(shell);
  const tensors = randomWeights(shell, DEFAULT_SEED);
  const model = buildModel(arch, tensors, 'random weights', { numHeads });
  return { model, tensors, name: arch, weights: `random (seed ${DEFAULT_SEED}; not a trained model)`, preprocess: preprocess ?? spec.preprocess, random: true };
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

/** `--images`: files or folders, decoded and preprocessed a batch at a time. */
export async function imageSource(paths: readonly string[], pre: Preprocess): Promise<ImageSource> {
  const files = await listImages(paths);
  for (const f of files) await checkImage(f);
  const size = pre.inputSize[1];
  return {
    names: files.map(imageName),
    size: [size, size],
    load: async (start, end) => {
      const out = new Float32Array((end - start) * 3 * size * size);
      for (let i = start; i < end; i++) out.set(await loadImage(files[i]!, pre), (i - start) * 3 * size * size);
      return out;
    },
  };
}

export async function bundledSource(pre: Preprocess): Promise<ImageSource> {
  return imageSource([bundledImages()], pre);
}

/** parseArgs options of the flags every model-on-images command shares. */
export const INPUT_OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  images: { type: 'string', multiple: true },
  input: { type: 'string' },
  interp: { type: 'string' },
  batch: { type: 'string' },
  heads: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The flags every model-on-images command shares. */
export interface InputFlags {
  model?: string;
  weights?: string;
  images?: string[];
  input?: string;
  heads?: string;
}

export interface RunInputs {
  plan: ModelPlan;
  source: ImageSource;
  /** what ran, for reports: the --input file, the image paths, or 'bundled images' */
  input: string | string[];
}

/** The model and images of a run, validated on the host before the GPU is opened:
 * --weights or the seeded random default, --input, --images (also as trailing
 * arguments) or the bundled images. Notes about the embedded default go to stderr even
 * with --quiet: a result from random weights must never pass for a real one. */
export async function prepareInputs(command: string, flags: InputFlags, positionals: readonly string[]): Promise<RunInputs> {
  const images = [...(flags.images ?? []), ...positionals];
  if (positionals.length && !flags.images) throw new LeeError(`${command}: unexpected argument '${positionals[0]}' (image paths go after --images)`);
  if (flags.input && images.length) throw new LeeError(`${command}: give --images or --input, not both`);
  const defaultImages = !flags.input && images.length === 0;
  const heads = flags.heads === undefined ? undefined : intFlag(flags.heads, 'heads', 1);
  const preprocess = runPreprocess(flags.model, flags.weights, defaultImages);
  // the cheap checks first: images and files before the weights are read
  const source = flags.input ? await inputSource(flags.input) : defaultImages ? await bundledSource(preprocess) : await imageSource(images, preprocess);
  const plan = await planModel(flags.model, flags.weights, preprocess, heads);
  if (plan.random) console.error(`note: ${plan.name} with RANDOM weights (seed 0), the embedded default, not a trained model; pass --weights for real results`);
  if (defaultImages) console.error(`note: the ${source.names.length} bundled images (assets/images) at ${source.size[0]} px`);
  return { plan, source, input: flags.input ?? (defaultImages ? 'bundled images' : images) };
}

export function interpFlag(value: string | undefined): Interp {
  const interp = value ?? 'bilinear';
  if (interp !== 'bilinear' && interp !== 'bicubic') throw new LeeError(`--interp must be bilinear or bicubic, got '${value}'`);
  return interp;
}
