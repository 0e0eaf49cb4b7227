import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LeeError } from '../engine/errors.js';
import { parseCheckpointConfig, type CheckpointConfig } from '../models/checkpoint.js';
import { parseHubId } from '../models/hub-id.js';
import { architectureOf } from '../models/registry.js';
import { checkArch } from '../lee/plan.js';
import { hubSnapshot } from './hub.js';

/** Where a run's weights come from: a safetensors file and, for a hub id or a
 * `save_for_hf` directory, its config.json. */
export interface Checkpoint {
  /** the model.safetensors to read */
  file: string;
  config?: CheckpointConfig;
  /** what reports call it: the hub id, the directory or the file */
  source: string;
}

export interface ResolvedModel {
  /** a registered architecture, or a timm name of one (`resnet50.tv_in1k`, `tv_resnet50`) */
  arch: string;
  checkpoint?: Checkpoint;
  /** the hub id, as given, when it came from the hub */
  hubId?: string;
}

/** A timm checkpoint directory (`save_for_hf`, a hub snapshot): config.json +
 * model.safetensors. */
export async function readCheckpointDir(dir: string, source = dir): Promise<Checkpoint> {
  const configPath = join(dir, 'config.json');
  const file = join(dir, 'model.safetensors');
  if (!existsSync(configPath)) {
    throw new LeeError(`${source} has no config.json (a timm checkpoint folder, as save_for_hf or the hub writes it, holds config.json and model.safetensors)`);
  }
  if (!existsSync(file)) {
    const bin = existsSync(join(dir, 'pytorch_model.bin')) ? ' (only pytorch_model.bin, which lee-gpu does not read: save it with safetensors)' : '';
    throw new LeeError(`${source} has no model.safetensors${bin}`);
  }
  const config = parseCheckpointConfig(await readFile(configPath, 'utf8'), `${source}/config.json`);
  return { file, config, source };
}

/** The architecture a `--model` name runs (`resnet50.tv_in1k`, `tv_resnet50` -> resnet50). */
const archOf = (name: string): string => architectureOf(name) ?? name.split('.', 1)[0]!;

/** The architecture and checkpoint of `--model` / `--weights`: a hub id (downloaded into
 * the hub cache unless it is there), a checkpoint directory, a bare safetensors file
 * (architecture from --model), or nothing (the default architecture). A config.json's
 * architecture must agree with --model when both are given. */
export async function resolveModel(model: string | undefined, weights: string | undefined, defaultArch: string, quiet = false): Promise<ResolvedModel> {
  const hub = model === undefined ? undefined : parseHubId(model);
  let checkpoint: Checkpoint | undefined;
  if (hub) {
    if (weights) throw new LeeError(`give a hub id (--model ${model}) or --weights, not both`);
    checkpoint = await readCheckpointDir(await hubSnapshot(hub, { quiet }), model!);
  } else if (weights) {
    let dir: boolean;
    try {
      dir = statSync(weights).isDirectory();
    } catch {
      throw new LeeError(`cannot read ${weights}: no such file or folder`);
    }
    checkpoint = dir ? await readCheckpointDir(weights) : { file: weights, source: weights };
  }
  const fromConfig = checkpoint?.config?.architecture;
  if (fromConfig) {
    checkArch(fromConfig, `${checkpoint!.source}/config.json's`);
    if (model && !hub && archOf(model) !== fromConfig) {
      throw new LeeError(`--model ${model} does not match ${checkpoint!.source}/config.json, whose architecture is ${fromConfig} (leave --model out to use it)`);
    }
    return { arch: fromConfig, checkpoint, ...(hub ? { hubId: model } : {}) };
  }
  // the name as given: a timm name carries its tag's preprocessing (modelSpec)
  return { arch: model ?? defaultArch, checkpoint };
}
