import type { HostTensor } from '../engine/safetensors.js';
import type { Module } from './module.js';

/** timm's eval preprocessing for image input. */
export interface Preprocess {
  inputSize: [number, number, number];
  cropPct: number;
  /** timm's crop_mode; absent means 'center' */
  cropMode?: 'center' | 'squash' | 'border';
  interpolation: 'bicubic' | 'bilinear';
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET: Pick<Preprocess, 'mean' | 'std'> = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
export const INCEPTION: Pick<Preprocess, 'mean' | 'std'> = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

export function preprocess(cropPct: number, mean: Pick<Preprocess, 'mean' | 'std'>, interpolation: Preprocess['interpolation'] = 'bicubic'): Preprocess {
  return { inputSize: [3, 224, 224], cropPct, interpolation, ...mean };
}

/** What a state_dict cannot tell: the number of attention heads (qkv is [3D, D] for any
 * split). Architectures without attention ignore it. */
export interface BuildOptions {
  numHeads?: number;
}

/** One named architecture. `build` reads every size it can from the weights (classes,
 * widths, depths, grid), falling back to the named default; without weights it builds
 * the default configuration (for parameter counts and randomly initialised runs). */
export interface ModelSpec {
  name: string;
  family: 'resnet' | 'vit' | 'mixer' | 'convnext' | 'inception' | 'resmlp' | 'convmixer' | 'convit' | 'vgg' | 'densenet' | 'efficientnet';
  preprocess: Preprocess;
  build(weights?: Map<string, HostTensor>, options?: BuildOptions): Module;
}

/** Read a weight's shape or fail with the key named. */
export function shapeOf(weights: Map<string, HostTensor> | undefined, key: string): number[] | undefined {
  return weights?.get(key)?.shape;
}

/** Count consecutive indices i for which `${prefix}${i}${suffix}` is a key. */
export function countIndexed(weights: Map<string, HostTensor>, prefix: string, suffix: string): number {
  let n = 0;
  while (weights.has(`${prefix}${n}${suffix}`)) n++;
  return n;
}
