import { LeeError } from '../engine/errors.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { createModel, modelSpec } from '../models/registry.js';
import { randomWeights } from '../models/init.js';
import { nameModules, type Module } from '../models/module.js';
import type { Preprocess } from '../models/spec.js';
import type { ImageSource } from '../lee/e2e.js';
import type { Interp } from '../engine/ops/sample.js';
import { intFlag } from './args.js';
import { bundledImages } from './paths.js';
import { imageName, listImages, loadImage } from './images.js';

export const DEFAULT_MODEL = 'resnet18';
export const DEFAULT_SEED = 0;
/** The bundled images are small; the randomly initialised default runs them at 64 px. */
const DEFAULT_PREPROCESS: Partial<Preprocess> = { inputSize: [3, 64, 64], cropPct: 1 };

export interface LoadedModel {
  model: Module;
  name: string;
  weights: string;
  preprocess: Preprocess;
  /** true when no weights were given: a seeded random model */
  random: boolean;
}

export async function resolveModel(name: string | undefined, weights: string | undefined, small: boolean, numHeads?: number): Promise<LoadedModel> {
  const arch = name ?? DEFAULT_MODEL;
  const spec = modelSpec(arch);
  if (weights) {
    const file = await loadSafetensors(weights);
    return { model: createModel(arch, file.tensors, weights, { numHeads }), name: arch, weights, preprocess: spec.preprocess, random: false };
  }
  const shell = spec.build(undefined, { numHeads });
  nameModules(shell);
  const model = createModel(arch, randomWeights(shell, DEFAULT_SEED), 'random weights', { numHeads });
  const preprocess = small ? { ...spec.preprocess, ...DEFAULT_PREPROCESS } : spec.preprocess;
  return { model, name: arch, weights: `random (seed ${DEFAULT_SEED}; not a trained model)`, preprocess, random: true };
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
  loaded: LoadedModel;
  source: ImageSource;
  /** what ran, for reports: the --input file, the image paths, or 'bundled images' */
  input: string | string[];
}

/** The model and images of a run: --weights or the seeded random default, --input,
 * --images (also as trailing arguments) or the bundled images. Notes about the
 * embedded default go to stderr even with --quiet: a result from random weights must
 * never pass for a real one. */
export async function runInputs(command: string, flags: InputFlags, positionals: readonly string[]): Promise<RunInputs> {
  const images = [...(flags.images ?? []), ...positionals];
  if (positionals.length && !flags.images) throw new LeeError(`${command}: unexpected argument '${positionals[0]}' (image paths go after --images)`);
  if (flags.input && images.length) throw new LeeError(`${command}: give --images or --input, not both`);
  const defaultImages = !flags.input && images.length === 0;
  const heads = flags.heads === undefined ? undefined : intFlag(flags.heads, 'heads', 1);
  const loaded = await resolveModel(flags.model, flags.weights, defaultImages, heads);
  const source = flags.input ? await inputSource(flags.input) : defaultImages ? await bundledSource(loaded.preprocess) : await imageSource(images, loaded.preprocess);
  if (loaded.random) console.error(`note: ${loaded.name} with RANDOM weights (seed 0), the embedded default, not a trained model; pass --weights for real results`);
  if (defaultImages) console.error(`note: the ${source.names.length} bundled images (assets/images) at ${source.size[0]} px`);
  return { loaded, source, input: flags.input ?? (defaultImages ? 'bundled images' : images) };
}

export function interpFlag(value: string | undefined): Interp {
  const interp = value ?? 'bilinear';
  if (interp !== 'bilinear' && interp !== 'bicubic') throw new LeeError(`--interp must be bilinear or bicubic, got '${value}'`);
  return interp;
}
