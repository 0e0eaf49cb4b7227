import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PathInfo } from '@huggingface/hub';
import { LeeError } from '../engine/errors.js';
import { isCommitHash, parseHubId, type HubId } from '../models/hub-id.js';
import { hubAnswerError, hubFetch, type HubWhere } from '../models/hub-client.js';

type Env = Record<string, string | undefined>;

export interface HubSnapshotOptions {
  /** files the snapshot must hold (default config.json and model.safetensors) */
  files?: string[];
  /** bytes downloaded so far of the total still to download; replaces the stderr line */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** no progress line on stderr */
  quiet?: boolean;
  /** where HF_* settings are read (default process.env) */
  env?: Env;
}

const DEFAULT_FILES = ['config.json', 'model.safetensors'];
const DEFAULT_ENDPOINT = 'https://huggingface.co';

const setting = (env: Env, name: string): string | undefined => (env[name] ? env[name] : undefined);
const expandUser = (p: string): string => (p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
function hfHome(env: Env): string {
  return expandUser(setting(env, 'HF_HOME') ?? join(setting(env, 'XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface'));
}

/** The cache Python's huggingface_hub reads and writes: $HF_HUB_CACHE (or its old name
 * HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(env: Env = process.env): string {
  const dir = setting(env, 'HF_HUB_CACHE') ?? setting(env, 'HUGGINGFACE_HUB_CACHE');
  return dir ? expandUser(dir) : join(hfHome(env), 'hub');
}

/** huggingface_hub's truthy spelling of a boolean setting. */
const isTrue = (v: string | undefined): boolean => ['1', 'ON', 'YES', 'TRUE'].includes((v ?? '').toUpperCase());

/** `<cache>/models--org--name`: where one repository's refs, blobs and snapshots live. */
function repoFolder(cache: string, repo: string): string {
  return join(cache, ['models', ...repo.split('/')].join('--'));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile(); // follows the snapshot's symlink into blobs/
  } catch {
    return false;
  }
}

/** The commit a revision names in the cache: itself when it is a commit id, else what
 * refs/<revision> holds (written by huggingface_hub, or by us after a download). */
async function cachedCommit(storage: string, revision: string): Promise<string | undefined> {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = (await readFile(join(storage, 'refs', revision), 'utf8')).trim();
    return isCommitHash(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

async function missingFiles(snapshot: string, files: string[]): Promise<string[]> {
  const present = await Promise.all(files.map((f) => isFile(join(snapshot, f))));
  return files.filter((_, i) => !present[i]);
}

/** The local directory holding `files` of hub model `id` at its revision: the snapshot
 * in Python's cache layout (`<cache>/models--org--name/snapshots/<commit>/`, files
 * symlinked into blobs/). The cache is read first, without any network; what is missing
 * is downloaded with `@huggingface/hub` into the same layout (from HF_ENDPOINT, with
 * HF_TOKEN), each file checked against the size and hash the hub lists, and
 * refs/<revision> then names the commit. With HF_HUB_OFFLINE set nothing is downloaded.
 * A branch found in the cache is not re-checked against the hub: name a commit
 * (`@<sha>`) to pin another one. Every failure a user can cause is one LeeError line. */
export async function hubSnapshot(id: HubId, opts: HubSnapshotOptions = {}): Promise<string> {
  const checked = parseHubId(`hf-hub:${id.repo}@${id.revision}`)!;
  const { repo, revision } = checked;
  const env = opts.env ?? process.env;
  const files = opts.files ?? DEFAULT_FILES;
  const cache = hubCacheDir(env);
  const storage = repoFolder(cache, repo);
  const name = `${repo}@${revision}`;

  const commit = await cachedCommit(storage, revision);
  const missing = commit ? await missingFiles(join(storage, 'snapshots', commit), files) : files;
  if (missing.length === 0) return join(storage, 'snapshots', commit!);
  if (isTrue(env.HF_HUB_OFFLINE)) {
    throw new LeeError(
      `hub model ${name}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the local cache ${cache}, and HF_HUB_OFFLINE is on, so nothing is downloaded (unset HF_HUB_OFFLINE to download)`,
    );
  }
  return download(checked, files, cache, storage, env, opts);
}

/** The hub's size and hash of a file, as paths-info lists them. */
interface Expected {
  size: number;
  /** sha256 for an LFS file, else git's blob id */
  hash?: string;
  algo: 'sha256' | 'git';
}

function expectedOf(info: PathInfo): Expected {
  return info.lfs ? { size: info.lfs.size, hash: info.lfs.oid, algo: 'sha256' } : { size: info.size, hash: info.oid, algo: 'git' };
}

async function hashFile(path: string, algo: Expected['algo'], size: number): Promise<string> {
  const h = createHash(algo === 'sha256' ? 'sha256' : 'sha1');
  if (algo === 'git') h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Why a downloaded file is not the hub's file, or undefined when it is. */
async function corruption(path: string, want: Expected): Promise<string | undefined> {
  const size = (await stat(path)).size;
  if (size !== want.size) return `it has ${size} bytes where the hub lists ${want.size}`;
  if (!want.hash) return undefined;
  const got = await hashFile(path, want.algo, size);
  return got === want.hash ? undefined : `its ${want.algo === 'sha256' ? 'sha256' : 'git blob id'} is ${got} where the hub lists ${want.hash}`;
}

/** Remove a snapshot entry and the blob it links to (a copy, where symlinks are not allowed). */
async function discard(pointer: string): Promise<void> {
  const blob = await realpath(pointer).catch(() => undefined);
  if (blob) await rm(blob, { force: true });
  await rm(pointer, { force: true });
}

/** A stderr line `label: 12.3/97.8 MB, 45.6 MB/s`, redrawn in place on a terminal,
 * at most every 2 s in a log. */
function byteProgress(label: string): { update(done: number, total: number): void; end(): void } {
  const tty = process.stderr.isTTY || process.env.LEE_STDERR_TTY === '1';
  const t0 = performance.now();
  let last = -Infinity;
  let open = false;
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  return {
    update(done, total) {
      const now = performance.now();
      const finished = done >= total;
      if (!finished && now - last < (tty ? 100 : 2000)) return;
      last = now;
      const s = (now - t0) / 1e3;
      const line = `${label}: ${mb(done)}/${mb(total)} MB, ${s > 0 ? mb(done / s) : '0.0'} MB/s${finished ? `, ${s.toFixed(1)}s` : ''}`;
      if (tty) process.stderr.write(`\r${line}\x1b[K${finished ? '\n' : ''}`);
      else process.stderr.write(`${line}\n`);
      open = tty && !finished;
    },
    end() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

/** The token for private and gated repositories: $HF_TOKEN, else the file
 * `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token). */
async function hubToken(env: Env): Promise<string | undefined> {
  let token = setting(env, 'HF_TOKEN');
  let source = 'HF_TOKEN';
  if (!token) {
    source = expandUser(setting(env, 'HF_TOKEN_PATH') ?? join(hfHome(env), 'token'));
    token = (await readFile(source, 'utf8').catch(() => '')).trim() || undefined;
  }
  if (token && !token.startsWith('hf_')) throw new LeeError(`the token in ${source} is not a Hugging Face access token (those start with hf_)`);
  return token;
}

/** Text for whatever a network failure threw: undici hides the reason in `cause`. */
function reason(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c !== undefined && c !== null && parts.length < 4; c = (c as { cause?: unknown }).cause) {
    const msg = c instanceof Error ? c.message : String(c);
    if (msg && !parts.includes(msg) && msg !== 'fetch failed') parts.push(msg);
    if (!(c instanceof Error)) break;
  }
  return parts.join(': ') || 'fetch failed';
}

async function download(id: HubId, files: string[], cache: string, storage: string, env: Env, opts: HubSnapshotOptions): Promise<string> {
  const { repo, revision } = id;
  const endpoint = (setting(env, 'HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const accessToken = await hubToken(env);
  const hub = await import('@huggingface/hub');
  const seen: { errorCode?: string } = {};
  let done = 0;
  let total = 0;
  const bar = opts.onProgress || opts.quiet ? undefined : byteProgress(`downloading ${repo}`);
  const report = (): void => (opts.onProgress ? opts.onProgress(done, total) : bar?.update(done, total));
  const fetch = hubFetch((n) => {
    done += n;
    report();
  }, seen);
  const common = { hubUrl: endpoint, fetch, ...(accessToken ? { accessToken } : {}) };
  let current: string | undefined; // the file being downloaded, for the error message

  try {
    const commit = isCommitHash(revision)
      ? revision
      : (await hub.modelInfo({ name: repo, revision, additionalFields: ['sha'], ...common })).sha;
    if (!isCommitHash(commit)) throw new LeeError(`the hub at ${endpoint} gave no commit id for ${repo}@${revision}`);
    const snapshot = join(storage, 'snapshots', commit);
    const missing = await missingFiles(snapshot, files);
    if (missing.length > 0) {
      const infos = await hub.pathsInfo({ repo: { type: 'model', name: repo }, paths: missing, revision: commit, ...common });
      const byPath = new Map(infos.map((i) => [i.path, i]));
      const absent = missing.filter((f) => !byPath.get(f) || byPath.get(f)!.type !== 'file');
      if (absent.length > 0) {
        const weights = absent.includes('model.safetensors') ? '; lee-gpu needs model.safetensors (timm state_dict weights), not a PyTorch pickle such as pytorch_model.bin' : '';
        throw new LeeError(`hub repository ${repo}@${revision} has no ${absent.join(', ')}${weights}`);
      }
      const want = new Map(missing.map((f) => [f, expectedOf(byPath.get(f)!)]));
      total = missing.reduce((s, f) => s + want.get(f)!.size, 0);
      for (const file of missing) {
        current = file;
        const base = done;
        for (let attempt = 1; ; attempt++) {
          done = base;
          const pointer = await quietly(() => hub.downloadFileToCacheDir({ repo: { type: 'model', name: repo }, path: file, revision: commit, cacheDir: cache, ...common }));
          const bad = await corruption(pointer, want.get(file)!);
          if (!bad) break;
          await discard(pointer);
          if (attempt === 2) throw new LeeError(`downloading ${file} of ${repo}@${revision} from ${endpoint} gave a damaged file twice (${bad}); it was removed, run again to retry`);
        }
        done = base + want.get(file)!.size;
        report();
      }
      current = undefined;
    }
    if (!isCommitHash(revision)) {
      const ref = join(storage, 'refs', revision);
      await mkdir(dirname(ref), { recursive: true });
      await writeFile(ref, commit); // as huggingface_hub writes it: the bare id, no newline
    }
    bar?.end();
    return snapshot;
  } catch (e) {
    bar?.end();
    throw hubError(e, { repo, revision, endpoint, file: current, errorCode: seen.errorCode, hub });
  }
}

/** Run `f` without @huggingface/hub's console.debug line per download. */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = () => undefined;
  try {
    return await f();
  } finally {
    console.debug = debug;
  }
}

interface Where extends HubWhere {
  hub: typeof import('@huggingface/hub');
}

/** One line for a person from whatever the hub client threw; bugs pass through. */
function hubError(e: unknown, w: Where): unknown {
  if (e instanceof LeeError) return e;
  const answered = hubAnswerError(e, w, w.hub, { give: 'set HF_TOKEN to a token', needs: 'HF_TOKEN' }, 'HF_ENDPOINT');
  if (answered) return answered;
  const name = `${w.repo}@${w.revision}`;
  // undici reports network failures as TypeErrors ('fetch failed', 'terminated'); a
  // stream aborted by @huggingface/hub rejects with a bare string
  if (e instanceof Error && 'syscall' in e && 'path' in e) {
    return new LeeError(`cannot write the hub cache: ${e.message} (HF_HUB_CACHE or HF_HOME choose another place)`);
  }
  if (e instanceof TypeError || typeof e === 'string') {
    if (w.file) {
      return new LeeError(
        `downloading ${w.file} of ${name} from ${w.endpoint} failed (${reason(e)}); nothing partial is kept as the file, run again to restart the download`,
      );
    }
    return new LeeError(
      `cannot reach the hub at ${w.endpoint} (${reason(e)}) to fetch ${name}: check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the local cache only`,
    );
  }
  return e;
}
