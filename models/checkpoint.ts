import { LeeError } from '../engine/errors.js';
import type { Preprocess } from './spec.js';

/** What a timm `config.json` (written by `save_config_for_hf`, as on the hub) says
 * about a checkpoint: the architecture, its classes and their names, the eval
 * preprocessing, and the constructor arguments a state_dict cannot show. */
export interface CheckpointConfig {
  /** timm's architecture name, without a pretrained tag */
  architecture: string;
  /** the pretrained tag (`a1_in1k`), when the config names one */
  tag?: string;
  numClasses?: number;
  /** the pretrained_cfg fields that set preprocessing; absent fields keep the model's */
  preprocess: Partial<Preprocess>;
  /** class names by index (`label_names`), when the config has them */
  labelNames?: string[];
  /** `model_args.num_heads`: attention heads, which weights do not record */
  numHeads?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function numbers(v: unknown, n: number, field: string, source: string): number[] {
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new LeeError(`${source}: pretrained_cfg.${field} must be a list of ${n} numbers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

/** The preprocessing fields of a pretrained_cfg, checked. */
function preprocessOf(cfg: Record<string, unknown>, source: string): Partial<Preprocess> {
  const out: Partial<Preprocess> = {};
  if (cfg.input_size !== undefined) {
    const [c, h, w] = numbers(cfg.input_size, 3, 'input_size', source) as [number, number, number];
    if (c !== 3 || h !== w || !Number.isInteger(h) || h < 2) {
      throw new LeeError(`${source}: input_size [${c}, ${h}, ${w}] is not supported (lee-gpu runs square 3-channel inputs)`);
    }
    out.inputSize = [3, h, w];
  }
  if (cfg.crop_pct !== undefined && cfg.crop_pct !== null) {
    if (typeof cfg.crop_pct !== 'number' || !(cfg.crop_pct > 0)) throw new LeeError(`${source}: crop_pct must be a positive number, got ${JSON.stringify(cfg.crop_pct)}`);
    out.cropPct = cfg.crop_pct;
  }
  if (cfg.crop_mode !== undefined && cfg.crop_mode !== null) {
    if (cfg.crop_mode !== 'center' && cfg.crop_mode !== 'squash' && cfg.crop_mode !== 'border') {
      throw new LeeError(`${source}: crop_mode must be center, squash or border, got ${JSON.stringify(cfg.crop_mode)}`);
    }
    out.cropMode = cfg.crop_mode;
  }
  if (cfg.interpolation !== undefined && cfg.interpolation !== null) {
    if (cfg.interpolation !== 'bicubic' && cfg.interpolation !== 'bilinear') {
      throw new LeeError(`${source}: interpolation '${String(cfg.interpolation)}' is not supported (bicubic or bilinear)`);
    }
    out.interpolation = cfg.interpolation;
  }
  if (cfg.mean !== undefined) out.mean = numbers(cfg.mean, 3, 'mean', source) as Preprocess['mean'];
  if (cfg.std !== undefined) {
    out.std = numbers(cfg.std, 3, 'std', source) as Preprocess['std'];
    if (out.std.some((s) => !(s > 0))) throw new LeeError(`${source}: pretrained_cfg.std must be positive, got [${out.std.join(', ')}]`);
  }
  return out;
}

/** label_names as a list by class index: timm writes a list, or a dict {index: name}
 * where indices have gaps (a gap is named by its index). */
function labelNamesOf(v: unknown, source: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const bad = () => new LeeError(`${source}: label_names must be a list of strings or a dict {class index: name}`);
  if (Array.isArray(v)) {
    if (!v.every((n) => typeof n === 'string')) throw bad();
    return v as string[];
  }
  if (!isObject(v)) throw bad();
  const entries = Object.entries(v).map(([k, name]) => {
    if (!/^\d+$/.test(k) || typeof name !== 'string') throw bad();
    return [Number(k), name] as const;
  });
  const out = Array.from({ length: Math.max(-1, ...entries.map(([i]) => i)) + 1 }, (_, i) => String(i));
  for (const [i, name] of entries) out[i] = name;
  return out;
}

/** Parse a timm config.json: the current layout (`architecture` + `pretrained_cfg`) and
 * the older one, where the whole file is the pretrained_cfg (as timm's own loader
 * accepts), with `labels` the deprecated name of `label_names`. */
export function parseCheckpointConfig(text: string, source: string): CheckpointConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LeeError(`${source} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new LeeError(`${source} is not a timm config (a JSON object)`);
  const pretrained = isObject(json.pretrained_cfg) ? json.pretrained_cfg : json;
  const arch = json.architecture ?? pretrained.architecture;
  if (typeof arch !== 'string' || !arch) throw new LeeError(`${source} names no architecture (a timm config.json has "architecture")`);
  const [architecture, tagInName] = arch.split('.', 2) as [string, string | undefined];
  const tag = typeof pretrained.tag === 'string' && pretrained.tag ? pretrained.tag : tagInName;
  const numClasses = json.num_classes ?? pretrained.num_classes;
  if (numClasses !== undefined && (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 0)) {
    throw new LeeError(`${source}: num_classes must be a non-negative integer, got ${JSON.stringify(numClasses)}`);
  }
  const labelNames = labelNamesOf(json.label_names ?? pretrained.label_names ?? pretrained.labels, source);
  const args = isObject(json.model_args) ? json.model_args : {};
  const heads = args.num_heads;
  if (heads !== undefined && (typeof heads !== 'number' || !Number.isInteger(heads) || heads < 1)) {
    throw new LeeError(`${source}: model_args.num_heads must be a positive integer, got ${JSON.stringify(heads)}`);
  }
  return {
    architecture,
    ...(tag ? { tag } : {}),
    ...(numClasses !== undefined ? { numClasses } : {}),
    preprocess: preprocessOf(pretrained, source),
    ...(labelNames ? { labelNames } : {}),
    ...(heads !== undefined ? { numHeads: heads } : {}),
  };
}
