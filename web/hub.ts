import { downloadFile, modelInfo, pathsInfo, HubApiError, InvalidApiResponseFormatError, type PathInfo } from '@huggingface/hub';
import { LeeError } from '../engine/errors.js';
import { isCommitHash, type HubId } from '../models/hub-id.js';
import { hubAnswerError, hubFetch, type HubWhere } from '../models/hub-client.js';

// A timm checkpoint from the Hugging Face hub, fetched by the user's browser with the
// official client and kept in the browser's Cache Storage, so a reload reads it from
// there without any network: each file under its commit's resolve URL, and the
// revision's commit under the model-info URL (as Python's cache keeps refs/<revision>).

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const CACHE = 'lee-gpu-hub';
const FILES = ['config.json', 'model.safetensors'] as const;

export interface HubOptions {
  /** the hub's URL (default huggingface.co) */
  endpoint?: string;
  /** an access token for private and gated repositories */
  token?: string;
  /** bytes downloaded so far of all to download */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface HubFiles {
  config: string;
  weights: Uint8Array;
  commit: string;
  /** true when every byte came from Cache Storage */
  cached: boolean;
}

/** Cache Storage exists only in secure contexts (https, localhost); without it files
 * are fetched every time. */
async function openCache(): Promise<Cache | undefined> {
  try {
    return 'caches' in globalThis ? await caches.open(CACHE) : undefined;
  } catch {
    return undefined;
  }
}

const fileKey = (endpoint: string, repo: string, commit: string, file: string) => `${endpoint}/${repo}/resolve/${commit}/${file}`;
const refKey = (endpoint: string, repo: string, revision: string) => `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;

/** Keep a response in the cache if it fits: a full quota only means the next load
 * downloads again. */
async function keep(cache: Cache | undefined, key: string, body: Uint8Array | string): Promise<void> {
  try {
    await cache?.put(key, new Response(body as BodyInit));
  } catch (e) {
    console.warn(`lee-gpu: not kept in the browser cache (${(e as Error).message}): ${key}`);
  }
}

async function cachedBytes(cache: Cache | undefined, key: string): Promise<Uint8Array | undefined> {
  const hit = await cache?.match(key);
  return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
}

/** The hub's hash of a file: sha256 for LFS files, git's blob id (sha1 of `blob <size>\0`
 * and the bytes) for the rest. */
async function hashOf(bytes: Uint8Array, lfs: boolean): Promise<string> {
  let data = bytes;
  if (!lfs) {
    const head = new TextEncoder().encode(`blob ${bytes.length}\0`);
    data = new Uint8Array(head.length + bytes.length);
    data.set(head);
    data.set(bytes, head.length);
  }
  const digest = await crypto.subtle.digest(lfs ? 'SHA-256' : 'SHA-1', data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** config.json and model.safetensors of hub model `id`: from Cache Storage when both
 * are there for the revision's cached commit, else downloaded (every file checked
 * against the size and hash the hub lists) and cached. */
export async function hubFiles(id: HubId, opts: HubOptions = {}): Promise<HubFiles> {
  const endpoint = (opts.endpoint || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const { repo, revision } = id;
  const cache = await openCache();
  const cachedCommit = isCommitHash(revision) ? revision : await (await cache?.match(refKey(endpoint, repo, revision)))?.text();
  if (cachedCommit) {
    const [config, weights] = await Promise.all(FILES.map((f) => cachedBytes(cache, fileKey(endpoint, repo, cachedCommit, f))));
    if (config && weights) return { config: new TextDecoder().decode(config), weights, commit: cachedCommit, cached: true };
  }

  const seen: { errorCode?: string } = {};
  let done = 0;
  let total = 0;
  const fetch = hubFetch(
    (n) => {
      done += n;
      opts.onProgress?.(done, total);
    },
    seen,
    opts.signal,
  );
  const common = { hubUrl: endpoint, fetch, ...(opts.token ? { accessToken: opts.token } : {}) };
  let current: string | undefined;
  try {
    const commit = isCommitHash(revision) ? revision : (await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...common })).sha;
    if (!isCommitHash(commit)) throw new LeeError(`the hub at ${endpoint} gave no commit id for ${repo}@${revision}`);
    const infos = await pathsInfo({ repo: { type: 'model', name: repo }, paths: [...FILES], revision: commit, ...common });
    const byPath = new Map<string, PathInfo>(infos.map((i) => [i.path, i]));
    const absent = FILES.filter((f) => byPath.get(f)?.type !== 'file');
    if (absent.length) {
      const why = absent.includes('model.safetensors') ? '; lee-gpu needs model.safetensors (timm state_dict weights), not a PyTorch pickle such as pytorch_model.bin' : '';
      throw new LeeError(`hub repository ${repo}@${revision} has no ${absent.join(', ')}${why}`);
    }
    const sizeOf = (f: string) => byPath.get(f)!.lfs?.size ?? byPath.get(f)!.size;
    total = FILES.reduce((s, f) => s + sizeOf(f), 0);
    opts.onProgress?.(0, total);
    const bytes: Uint8Array[] = [];
    for (const file of FILES) {
      current = file;
      const base = done;
      const cachedFile = await cachedBytes(cache, fileKey(endpoint, repo, commit, file));
      let got = cachedFile;
      if (!got) {
        const blob = await downloadFile({ repo: { type: 'model', name: repo }, path: file, revision: commit, ...common });
        if (!blob) throw new LeeError(`hub repository ${repo}@${revision} has no ${file}`);
        got = new Uint8Array(await blob.arrayBuffer());
        const info = byPath.get(file)!;
        const want = info.lfs ? info.lfs.oid : info.oid;
        if (got.length !== sizeOf(file)) throw new LeeError(`downloading ${file} of ${repo}@${revision} gave ${got.length} bytes where the hub lists ${sizeOf(file)}; try again`);
        if (want && (await hashOf(got, !!info.lfs)) !== want) throw new LeeError(`downloading ${file} of ${repo}@${revision} gave a damaged file (its hash is not the one the hub lists); try again`);
        await keep(cache, fileKey(endpoint, repo, commit, file), got);
      }
      done = base + got.length;
      opts.onProgress?.(done, total);
      bytes.push(got);
    }
    current = undefined;
    if (!isCommitHash(revision)) await keep(cache, refKey(endpoint, repo, revision), commit);
    return { config: new TextDecoder().decode(bytes[0]!), weights: bytes[1]!, commit, cached: false };
  } catch (e) {
    throw hubError(e, { repo, revision, endpoint, file: current, errorCode: seen.errorCode, signal: opts.signal });
  }
}

interface Where extends HubWhere {
  signal?: AbortSignal;
}

/** One line for a person from whatever the hub client threw; bugs pass through. */
function hubError(e: unknown, w: Where): unknown {
  if (e instanceof LeeError || w.signal?.aborted) return e;
  const answered = hubAnswerError(e, w, { HubApiError, InvalidApiResponseFormatError }, { give: 'give an access token', needs: 'an access token' }, 'the endpoint');
  if (answered) return answered;
  const name = `${w.repo}@${w.revision}`;
  // fetch rejects with a TypeError when the server cannot be reached (or CORS refuses
  // the answer); an aborted stream rejects with a bare string
  if (e instanceof TypeError || typeof e === 'string') {
    const why = e instanceof TypeError ? e.message : e;
    if (w.file) return new LeeError(`downloading ${w.file} of ${name} from ${w.endpoint} failed (${why}); load it again to retry`);
    return new LeeError(`cannot reach the hub at ${w.endpoint} (${why}) to fetch ${name}: check the network and the hub endpoint`);
  }
  return e;
}
