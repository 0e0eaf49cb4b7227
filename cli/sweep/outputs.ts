import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { LeeError } from '../../engine/errors.js';
import type { Generator } from '../../lee/transforms.js';
import type { ImageEntry } from '../images.js';
import type { SweepEntry } from './list.js';

// A model's outputs are complete when its JSON, written last, names this sweep's
// settings and the SHA-256 of every other output, and each matches. Every file is
// written to a temporary name and renamed, so a killed run leaves either nothing or a
// file the JSON does not vouch for.

/** What a model's outputs depend on: a rerun with anything else redoes the model. */
export interface SweepSettings {
  engine: string;
  entry: string;
  /** a checkpoint folder's model.safetensors (size, mtime) and config.json (SHA-256) */
  weights?: { bytes: number; mtime_ms: number; config_sha256: string };
  transforms: readonly Generator[];
  interp: string;
  images: { count: number; sha256: string };
  layerwise: readonly Generator[];
  sample_metrics?: { seed: number; samples?: number };
}

/** The files of one model: the e2e CSV, per layerwise generator its CSV, and the JSON. */
export interface ModelFiles {
  csv: string;
  json: string;
  layerwise: Map<Generator, string>;
}

export function modelFiles(dir: string, name: string, layerwise: readonly Generator[]): ModelFiles {
  return {
    csv: join(dir, `${name}.csv`),
    json: join(dir, `${name}.json`),
    layerwise: new Map(layerwise.map((g) => [g, join(dir, `${name}.layerwise.${g}.csv`)])),
  };
}

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** JSON with object keys sorted, so equal settings compare equal as text. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The images' identity: names, folders (labels) and bytes, in run order, and the
 * --labels file's text. */
export async function imagesHash(entries: readonly (ImageEntry & { path: string })[], labelsText?: string): Promise<{ count: number; sha256: string }> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.name}\0${e.folder ?? ''}\0`);
    h.update(await readFile(e.path));
    h.update('\0');
  }
  if (labelsText !== undefined) h.update(`labels\0${labelsText}`);
  return { count: entries.length, sha256: h.digest('hex') };
}

/** A checkpoint folder's fingerprint: the weights' size and mtime (not their hash: a
 * rerun over a hundred checkpoints must not read them all), config.json's hash. */
export async function weightsFingerprint(entry: SweepEntry): Promise<SweepSettings['weights']> {
  if (!entry.weights) return undefined;
  const file = join(entry.weights, 'model.safetensors');
  const config = join(entry.weights, 'config.json');
  if (!existsSync(file) || !existsSync(config)) return undefined;
  const s = statSync(file);
  return { bytes: s.size, mtime_ms: s.mtimeMs, config_sha256: sha256(await readFile(config)) };
}

/** The sweep record in a model's JSON. */
export interface SweepRecord {
  settings: SweepSettings;
  /** file name (in DIR) -> SHA-256 of every output but the JSON */
  outputs: Record<string, string>;
}

/** Whether `files` hold this model's outputs for `settings`: the JSON parses, names the
 * same settings and every output it lists is there with its hash. */
export async function isComplete(files: ModelFiles, settings: SweepSettings): Promise<boolean> {
  let record: SweepRecord | undefined;
  try {
    record = JSON.parse(await readFile(files.json, 'utf8')).sweep;
  } catch {
    return false;
  }
  if (!record?.settings || !record.outputs || canonical(record.settings) !== canonical(settings)) return false;
  const dir = dirname(files.json);
  const wanted = [files.csv, ...files.layerwise.values()].map((p) => basename(p));
  if (wanted.some((f) => !(f in record.outputs))) return false;
  for (const [file, hash] of Object.entries(record.outputs)) {
    try {
      if (sha256(await readFile(join(dir, file))) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}

const tmpPrefix = (name: string): string => `.${name}.`;
const TMP_SUFFIX = '.tmp';

/** Write `path` whole or not at all: a temporary file in the same folder (unique to this
 * host and process), flushed to disk, then renamed over `path`. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `${tmpPrefix(basename(path))}${hostname()}.${process.pid}${TMP_SUFFIX}`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new LeeError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Remove what a killed run left of a model: temporary files of its outputs. Only the
 * process that runs the model calls this, so no live writer loses a file. */
export async function removePartial(dir: string, files: ModelFiles): Promise<void> {
  const bases = [files.csv, files.json, ...files.layerwise.values()].map((p) => basename(p));
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (n.endsWith(TMP_SUFFIX) && bases.some((b) => n.startsWith(tmpPrefix(b)))) await unlink(join(dir, n)).catch(() => undefined);
  }
}
