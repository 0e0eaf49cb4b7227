import { LeeError } from '../engine/errors.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { readFile } from 'node:fs/promises';
import type { Preprocess } from '../models/spec.js';
import type { Interp } from '../engine/ops/sample.js';
import { intFlag } from './args.js';
import { parseLabels, type ClassInfo } from '../lee/labels.js';
import { DEFAULT_MODEL, planCheckpoint, planRandom, type ModelPlan } from '../lee/plan.js';
import { labelledSource, preprocessedSource, type LabelledSource } from '../lee/sources.js';
import { bundledImages, samplePhotos } from './paths.js';
import { checkImage, decodeRgb, listImages, type ImageEntry } from './images.js';
import { resolveModel, type ResolvedModel } from './checkpoint.js';

export { DEFAULT_MODEL, DEFAULT_SEED, loadModel, type ModelPlan } from '../lee/plan.js';
export type { LabelledSource } from '../lee/sources.js';

/** The model of a run, its weights checked against the architecture; nothing touches
 * the GPU, so a wrong name or file fails before it is opened (lee/plan.ts: the
 * architecture's eval config overridden by config.json's pretrained_cfg, or 64 px for a
 * random model on the synthetic images; --heads overrides model_args). */
export async function planModel(resolved: ResolvedModel, numHeads?: number, randomOnBundled = false): Promise<ModelPlan> {
  const { arch, checkpoint } = resolved;
  if (!checkpoint) return planRandom(arch, numHeads, randomOnBundled);
  const file = await loadSafetensors(checkpoint.file);
  return planCheckpoint(arch, { tensors: file.tensors, config: checkpoint.config, source: checkpoint.source, hubId: resolved.hubId }, numHeads);
}

/** `--input`: a safetensors file whose tensor `images` is [N, 3, H, W], already normalised. */
export async function inputSource(path: string): Promise<LabelledSource> {
  return preprocessedSource((await loadSafetensors(path)).tensors, path);
}

/** Fail now, before the GPU is opened, on any image that does not decode (headers only).
 * Once per image set: every model of a run reads the same files. */
export async function checkImages(entries: readonly ImageEntry[]): Promise<void> {
  for (const e of entries) await checkImage(e.path);
}

/** `--images`: files or folders (ImageFolder trees labelled through `classes` and the
 * --labels names; `checkImages` first), decoded with sharp and preprocessed a batch at a
 * time. */
export async function imageSource(entries: readonly ImageEntry[], pre: Preprocess, classes: ClassInfo, labels?: readonly string[]): Promise<LabelledSource> {
  return labelledSource(entries, (e) => decodeRgb(e.path), pre, classes, labels);
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
  if (!input) await checkImages(entries);
  const source = input ? { ...input, labels: input.names.map(() => undefined) } : await imageSource(entries, plan.preprocess, plan.classes, labels);
  if (plan.random) {
    // `resnet50.a1_in1k` names timm's trained weights, which live on the hub
    const hint = flags.model?.includes('.') ? ` (timm's ${flags.model} weights: --model timm/${flags.model})` : '';
    console.error(`note: ${plan.name} with RANDOM weights (seed 0), not a trained model; pass --weights or a hub id for real results${hint}`);
  }
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
