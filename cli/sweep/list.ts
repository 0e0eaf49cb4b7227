import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { LeeError } from '../../engine/errors.js';
import { parseHubId } from '../../models/hub-id.js';
import { MODELS } from '../../models/registry.js';
import { resolveName, SWEEPS } from '../../models/names.js';
import { demoIds } from '../demo.js';
import { demoModels } from '../paths.js';

/** One model of a sweep. */
export interface SweepEntry {
  /** the list's line (or the named list's hub id), as recorded in the outputs */
  spec: string;
  /** the stem of its output files: DIR/<name>.csv, DIR/<name>.json */
  name: string;
  /** --model: a built-in architecture or a hub id */
  model?: string;
  /** --weights: a checkpoint folder (config.json + model.safetensors) */
  weights?: string;
  /** the architecture, where the entry names it before anything is read */
  arch?: string;
}

export interface ModelList {
  /** what the list was: its file or its name */
  source: string;
  entries: SweepEntry[];
  /** entries of a named list whose architecture lee-gpu does not have (yet) */
  unsupported: SweepEntry[];
}

/** The named lists: the paper's sweeps (core: its 83 core models, as timm's hub ids)
 * and the bundled demo models. */
export const NAMED_LISTS = [...Object.keys(SWEEPS), 'demo'];

const known = (arch: string): boolean => MODELS.some((m) => m.name === arch);
const archOf = (name: string): string => name.split('.', 1)[0]!;

/** A name that is safe as a file stem on every file system. */
const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.@+-]/g, '_').replace(/^\.+/, '_');

/** The output stem of a hub id: timm's own repositories by their model name (the
 * paper's file names), others as org--name; a revision other than main is kept. */
function hubName(spec: string): string {
  const { repo, revision } = parseHubId(spec)!;
  const [org, name] = repo.split('/') as [string, string];
  return safeName(`${org === 'timm' ? name : `${org}--${name}`}${revision === 'main' ? '' : `@${revision}`}`);
}

/** One line of a list file: a checkpoint folder (a path, relative to the list's own
 * folder; a folder of that name there wins over a hub id or architecture), a hub id, or a built-in architecture (timm's arch.tag names too, random
 * weights as `lee e2e --model` runs it). */
export function parseEntry(line: string, baseDir: string, where: string): SweepEntry {
  const path = isAbsolute(line) ? line : resolve(baseDir, line);
  const looksLikePath = /^(\/|\.\.?\/|~)/.test(line);
  if (looksLikePath || (existsSync(path) && statSync(path).isDirectory())) {
    if (!existsSync(path) || !statSync(path).isDirectory()) {
      throw new LeeError(`${where}: '${line}' is not a checkpoint folder (${path} does not exist or is not a folder)`);
    }
    return { spec: line, name: safeName(basename(path)), weights: path };
  }
  if (parseHubId(line)) {
    const repoName = parseHubId(line)!.repo.split('/')[1]!;
    return { spec: line, name: hubName(line), model: line, arch: archOf(repoName) };
  }
  const arch = archOf(line);
  if (!known(arch)) throw new LeeError(`${where}: unknown model '${line}' (a checkpoint folder, a hub id org/name, or one of: ${MODELS.map((m) => m.name).join(', ')})`);
  return { spec: line, name: safeName(line), model: line, arch };
}

/** A named list's model (a timm 0.6-era name, as the paper wrote it): timm's hub id for
 * the tag timm 0.9 resolves it to (deprecation table, else the default tag:
 * `tv_resnet50` -> timm/resnet50.tv_in1k, `resnet50` -> timm/resnet50.a1_in1k), its
 * outputs under the paper's name. No architecture when lee-gpu does not know the name. */
function namedEntry(name: string): SweepEntry {
  const r = resolveName(name);
  if (!r) return { spec: name, name: safeName(name) };
  const hubId = `timm/${r.timm}`;
  return { spec: hubId, name: safeName(name), model: hubId, arch: r.arch };
}

/** `--models`: a list file (one model a line; blank lines and # comments skipped) or a
 * named list. Output names must be unique. */
export async function readModelList(value: string): Promise<ModelList> {
  let list: ModelList;
  if (existsSync(value) && statSync(value).isFile()) {
    const text = await readFile(value, 'utf8');
    const entries: SweepEntry[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line) entries.push(parseEntry(line, dirname(resolve(value)), `${value}:${i + 1}`));
    });
    if (!entries.length) throw new LeeError(`${value} lists no models (one per line: a checkpoint folder, a hub id or an architecture)`);
    list = { source: value, entries, unsupported: [] };
  } else if (SWEEPS[value]) {
    const all = SWEEPS[value]!.map(namedEntry);
    list = { source: value, entries: all.filter((e) => e.arch !== undefined && known(e.arch)), unsupported: all.filter((e) => e.arch === undefined || !known(e.arch)) };
  } else if (value === 'demo') {
    const entries = demoIds().map((id) => ({ spec: `demo:${id}`, name: id, weights: join(demoModels(), id) }));
    list = { source: 'demo', entries, unsupported: [] };
  } else {
    throw new LeeError(`--models ${value}: no such file, and not a named list (${NAMED_LISTS.join(', ')})`);
  }
  const seen = new Map<string, string>();
  for (const e of list.entries) {
    const other = seen.get(e.name);
    if (other !== undefined) throw new LeeError(`${list.source}: '${other}' and '${e.spec}' would both write ${e.name}.csv; give one of them another folder name`);
    seen.set(e.name, e.spec);
  }
  return list;
}
