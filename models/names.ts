import { LeeError } from '../engine/errors.js';
import { IMAGENET, INCEPTION, type Preprocess } from './spec.js';
import { DEFAULT_TAGS, DEPRECATED_NAMES, TIMM_TAGS, type TimmNorm } from './timm-names.js';

// Model names as researchers write them: a timm 0.9 architecture (`resnet50`), an
// `arch.tag` name (`resnet50.tv_in1k`), or a timm 0.6 name that timm 0.9 deprecated
// (`tv_resnet50`, `convnext_tiny_in22ft1k`), resolved with timm's own deprecation table
// (models/timm-names.ts, generated from timm by scripts/gen_name_fixtures.py). Each
// resolves to an architecture and a pretrained tag, whose eval preprocessing it carries.

/** The paper's `core_models` sweep (Gruver et al. 2023), timm 0.6-era names, its order. */
export const CORE_MODELS: readonly string[] = `
convit_base convit_small convmixer_1536_20 convmixer_768_32 convnext_base convnext_base_in22ft1k
convnext_large convnext_large_in22ft1k convnext_small convnext_small_in22ft1k convnext_tiny
convnext_tiny_in22ft1k convnext_xlarge_in22ft1k densenet121 densenet161 densenet169 densenet201
densenetblur121d efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3 efficientnet_b4
inception_resnet_v2 inception_v3 inception_v4 mixer_b16_224 mixer_b16_224_in21k mixer_b16_224_miil
mixer_l16_224 mixer_l16_224_in21k mobilenetv2_100 mobilenetv2_110d mobilenetv2_120d mobilenetv2_140
resmlp_12_224 resmlp_12_distilled_224 resmlp_24_224 resmlp_24_distilled_224 resmlp_36_224
resmlp_36_distilled_224 resmlp_big_24_224 resmlp_big_24_224_in22ft1k resmlp_big_24_distilled_224
resnet101 resnet101d resnet152 resnet152d resnet34 resnet50 resnet50d resnetblur50 resnetrs101
resnetrs152 tv_densenet121 tv_resnet101 tv_resnet152 tv_resnet34 tv_resnet50 vgg11 vgg11_bn vgg13
vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn vit_base_patch16_224 vit_base_patch16_224_miil
vit_base_patch16_384 vit_base_patch32_224 vit_base_patch32_384 vit_large_patch16_224
vit_large_patch16_384 vit_large_patch32_384 vit_small_patch16_224 vit_small_patch16_384
vit_small_patch32_224 vit_small_patch32_384 vit_tiny_patch16_224 vit_tiny_patch16_384
wide_resnet101_2 wide_resnet50_2
`
  .split(/\s+/)
  .filter(Boolean);

export const SWEEPS: Record<string, readonly string[]> = { core: CORE_MODELS };

const NORMS: Record<TimmNorm, Pick<Preprocess, 'mean' | 'std'>> = {
  IMAGENET,
  INCEPTION,
  ZERO_ONE: { mean: [0, 0, 0], std: [1, 1, 1] },
  CLIP: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
};

export interface ResolvedName {
  /** as given */
  name: string;
  arch: string;
  tag: string;
  /** timm 0.9's `arch.tag` */
  timm: string;
  /** timm's eval preprocessing of that tag */
  preprocess: Preprocess;
  /** the tag's classifier width */
  numClasses: number;
}

/** timm's eval preprocessing of `arch.tag`, if the table has the tag. */
export function tagPreprocess(timm: string): { preprocess: Preprocess; numClasses: number } | undefined {
  const t = TIMM_TAGS[timm];
  if (!t) return undefined;
  const [size, cropPct, cropMode, interpolation, norm, numClasses] = t;
  const preprocess: Preprocess = { inputSize: [3, size, size], cropPct, interpolation, ...NORMS[norm] };
  if (cropMode !== 'center') preprocess.cropMode = cropMode;
  return { preprocess, numClasses };
}

/** The tags timm 0.9 has for an architecture (empty if the table does not know it). */
export function tagsOf(arch: string): string[] {
  return Object.keys(TIMM_TAGS)
    .filter((k) => k.startsWith(`${arch}.`))
    .map((k) => k.slice(arch.length + 1));
}

/** A name's architecture and tag, or undefined if it names nothing timm 0.9 knows of the
 * table's architectures. A deprecated name resolves through timm's table; a bare
 * architecture to its default tag; `arch.tag` must be one of timm's tags. */
export function resolveName(name: string): ResolvedName | undefined {
  const target = DEPRECATED_NAMES[name] ?? name;
  const dot = target.indexOf('.');
  const arch = dot < 0 ? target : target.slice(0, dot);
  const defaultTag = DEFAULT_TAGS[arch];
  if (defaultTag === undefined) return undefined;
  const tag = dot < 0 ? defaultTag : target.slice(dot + 1);
  const timm = `${arch}.${tag}`;
  const cfg = tagPreprocess(timm);
  if (!cfg) {
    throw new LeeError(`'${name}': timm 0.9 has no tag '${tag}' for ${arch} (its tags: ${tagsOf(arch).join(', ')})`);
  }
  return { name, arch, tag, timm, ...cfg };
}

/** Deprecated (timm 0.6) names and where they lead, for listings. */
export function deprecatedNames(): [string, string][] {
  return Object.entries(DEPRECATED_NAMES);
}
