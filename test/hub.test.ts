import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LeeError } from '../engine/errors.js';
import { parseCheckpointConfig } from '../models/checkpoint.js';
import { isCommitHash, parseHubId } from '../models/hub-id.js';
import { hubCacheDir, hubSnapshot } from '../cli/hub.js';
import { fixtureCommit, gitBlobId, sha256, startHubServer, type HubServer } from './helpers/hub-server.js';

const ROOT = 'test/fixtures/hub';
const NAMES = readdirSync(join(ROOT, 'timm')).sort();
const RESNET = 'timm/resnet18.lee_mini';
const fixture = (repo: string, file: string): Buffer => readFileSync(join(ROOT, repo, file));
const folder = (home: string, repo: string): string => join(home, 'hub', `models--${repo.replace('/', '--')}`);

/** The LeeError hubSnapshot rejects with: one line for a person. */
async function leeError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LeeError);
  const msg = (e as LeeError).message;
  expect(msg).not.toContain('\n');
  return msg;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** An endpoint nothing listens on: a port just closed. */
async function deadEndpoint(): Promise<string> {
  const s = await startHubServer(ROOT);
  await s.close();
  return s.url;
}

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lee-hub-'));
  temps.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe('parseHubId', () => {
  it.each([
    ['timm/resnet50.a1_in1k', { repo: 'timm/resnet50.a1_in1k', revision: 'main' }],
    ['hf-hub:timm/resnet50.a1_in1k', { repo: 'timm/resnet50.a1_in1k', revision: 'main' }],
    ['timm/vit_base_patch16_224.augreg2_in21k_ft_in1k@v1.0', { repo: 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k', revision: 'v1.0' }],
    ['hf-hub:my-org/My_Model-2@refs/pr/3', { repo: 'my-org/My_Model-2', revision: 'refs/pr/3' }],
    ['timm/resnet18@0123456789abcdef0123456789abcdef01234567', { repo: 'timm/resnet18', revision: '0123456789abcdef0123456789abcdef01234567' }],
  ])('%s', (id, want) => {
    expect(parseHubId(id)).toEqual(want);
  });

  it.each(['resnet50', 'resnet50.a1_in1k', 'vit_tiny_patch16_224'])('built-in name %s is not a hub id', (name) => {
    expect(parseHubId(name)).toBeUndefined();
  });

  it.each([
    ['hf-hub:resnet50', /org\/name/],
    ['timm/a/b', /more than one \//],
    ['/resnet50', /empty/],
    ['timm/', /empty/],
    ['timm/resnet50@', /revision after '@' is empty/],
    ['timm/res net', /may hold only/],
    ['timm/-resnet', /may hold only/],
    ['timm/resnet50.', /may hold only/],
    ['timm/res--net', /'--'/],
    ['timm/res..net', /'\.\.'/],
    ['timm/resnet50@a..b', /not a branch, tag or commit/],
    ['timm/resnet50@/main', /not a branch, tag or commit/],
    [`timm/${'a'.repeat(95)}`, /longer than 96/],
  ])('%s is malformed', (id, why) => {
    expect(() => parseHubId(id)).toThrow(LeeError);
    expect(() => parseHubId(id)).toThrow(why);
    expect(() => parseHubId(id)).toThrow(/timm\/resnet50\.a1_in1k/); // the message shows the form
  });

  it('knows a commit id', () => {
    expect(isCommitHash('0123456789abcdef0123456789abcdef01234567')).toBe(true);
    expect(isCommitHash('main')).toBe(false);
    expect(isCommitHash('0123456789ABCDEF0123456789ABCDEF01234567')).toBe(false);
  });
});

describe('hubCacheDir', () => {
  it('follows huggingface_hub: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME, else ~/.cache', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/c', HF_HOME: '/h' })).toBe('/c');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/old', HF_HOME: '/h' })).toBe('/old');
    expect(hubCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe('/h/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/hub');
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache/huggingface/hub'));
    expect(hubCacheDir({ HF_HOME: '~/hf' })).toBe(join(homedir(), 'hf/hub'));
    expect(hubCacheDir({ HF_HUB_CACHE: '', HF_HOME: '/h' })).toBe('/h/hub'); // empty is unset
  });
});

describe('hub fixtures', () => {
  it('are the four families, each config.json a timm config lee-gpu reads', () => {
    expect(NAMES).toEqual(['convnext_atto.lee_mini', 'mixer_s16_224.lee_mini', 'resnet18.lee_mini', 'vit_tiny_patch16_224.lee_mini']);
    const configs = Object.fromEntries(NAMES.map((n) => [n, parseCheckpointConfig(fixture(`timm/${n}`, 'config.json').toString(), n)]));
    for (const [name, c] of Object.entries(configs)) {
      expect(`${c.architecture}.${c.tag}`).toBe(name);
      expect(c.numClasses).toBe(10);
    }
    expect(configs['resnet18.lee_mini']!.preprocess).toEqual({
      inputSize: [3, 48, 48], cropPct: 0.8, cropMode: 'center', interpolation: 'bilinear', mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3],
    });
    expect(configs['resnet18.lee_mini']!.labelNames).toHaveLength(10);
    expect(configs['vit_tiny_patch16_224.lee_mini']!.numHeads).toBe(3);
    expect(configs['vit_tiny_patch16_224.lee_mini']!.preprocess.cropMode).toBe('squash');
    expect(configs['convnext_atto.lee_mini']!.preprocess.cropMode).toBe('border');
    expect(configs['mixer_s16_224.lee_mini']!.preprocess.inputSize).toEqual([3, 32, 32]);
  });
});

describe('hubSnapshot against a local hub', () => {
  let server: HubServer;
  let home: string;
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ HF_HOME: home, HF_ENDPOINT: server.url, ...extra });

  beforeAll(async () => {
    server = await startHubServer(ROOT);
    home = await tempDir();
  });
  afterAll(() => server.close());
  afterEach(() => vi.restoreAllMocks());

  it('downloads every fixture into Python\'s cache layout, byte for byte, without console noise', async () => {
    const debug = vi.spyOn(console, 'debug');
    for (const name of NAMES) {
      const repo = `timm/${name}`;
      const progress: [number, number][] = [];
      const dir = await hubSnapshot({ repo, revision: 'main' }, { env: env(), onProgress: (d, t) => progress.push([d, t]) });
      const commit = fixtureCommit(repo);
      expect(dir).toBe(join(folder(home, repo), 'snapshots', commit));
      for (const file of ['config.json', 'model.safetensors']) {
        const bytes = fixture(repo, file);
        expect((await readFile(join(dir, file))).equals(bytes)).toBe(true);
        // a relative symlink into blobs/, the blob named as huggingface_hub names it
        const etag = file.endsWith('.json') ? gitBlobId(bytes) : sha256(bytes);
        expect(await readlink(join(dir, file))).toBe(`../../blobs/${etag}`);
      }
      expect(await readFile(join(folder(home, repo), 'refs', 'main'), 'utf8')).toBe(commit);
      const total = fixture(repo, 'config.json').length + fixture(repo, 'model.safetensors').length;
      expect(progress.at(-1)).toEqual([total, total]);
      expect(progress.every(([d, t]) => t === total && d <= total)).toBe(true);
    }
    expect(debug).not.toHaveBeenCalled();
    const resolve = server.requests.filter((r) => r.startsWith(`GET /${RESNET}/resolve/`));
    expect(server.requests).toContain(`POST /api/models/${RESNET}/paths-info/${fixtureCommit(RESNET)}`);
    expect(resolve).toContain(`GET /${RESNET}/resolve/${fixtureCommit(RESNET)}/model.safetensors [bytes=0-0]`);
    expect(resolve).toContain(`GET /${RESNET}/resolve/${fixtureCommit(RESNET)}/model.safetensors`);
  });

  it('a cached snapshot needs no network, also offline and by commit id', async () => {
    const before = server.requests.length;
    const want = join(folder(home, RESNET), 'snapshots', fixtureCommit(RESNET));
    const dead = await deadEndpoint();
    expect(await hubSnapshot({ repo: RESNET, revision: 'main' }, { env: env({ HF_ENDPOINT: dead }) })).toBe(want);
    expect(await hubSnapshot({ repo: RESNET, revision: 'main' }, { env: env({ HF_HUB_OFFLINE: '1' }) })).toBe(want);
    expect(await hubSnapshot({ repo: RESNET, revision: fixtureCommit(RESNET) }, { env: env({ HF_HUB_OFFLINE: 'true' }) })).toBe(want);
    expect(await hubSnapshot({ repo: RESNET, revision: 'main' }, { env: env(), files: ['config.json'] })).toBe(want);
    expect(server.requests.length).toBe(before);
  });

  it('downloads a file the cached snapshot lacks, and a commit id without writing a ref', async () => {
    const repo = 'timm/mixer_s16_224.lee_mini';
    const h = await tempDir();
    const e = { HF_HOME: h, HF_ENDPOINT: server.url };
    const commit = fixtureCommit(repo);
    await hubSnapshot({ repo, revision: commit }, { env: e, files: ['config.json'], quiet: true });
    expect(await exists(join(folder(h, repo), 'refs', 'main'))).toBe(false);
    const dir = await hubSnapshot({ repo, revision: commit }, { env: e, quiet: true });
    expect((await readFile(join(dir, 'model.safetensors'))).equals(fixture(repo, 'model.safetensors'))).toBe(true);
  });

  it('reads a cache laid out by hand the way huggingface_hub writes it', async () => {
    const cache = await tempDir();
    const repo = 'timm/vit_tiny_patch16_224.lee_mini';
    const commit = 'abcdefabcdefabcdefabcdefabcdefabcdef0123';
    const base = join(cache, 'models--timm--vit_tiny_patch16_224.lee_mini');
    await mkdir(join(base, 'blobs'), { recursive: true });
    await mkdir(join(base, 'snapshots', commit), { recursive: true });
    await mkdir(join(base, 'refs'), { recursive: true });
    await mkdir(join(cache, '.locks', 'models--timm--vit_tiny_patch16_224.lee_mini'), { recursive: true });
    for (const file of ['config.json', 'model.safetensors']) {
      const bytes = fixture(repo, file);
      const etag = file.endsWith('.json') ? gitBlobId(bytes) : sha256(bytes);
      await writeFile(join(base, 'blobs', etag), bytes);
      await symlink(`../../blobs/${etag}`, join(base, 'snapshots', commit, file));
    }
    await writeFile(join(base, 'refs', 'main'), commit);
    const env = { HF_HUB_CACHE: cache, HF_HOME: '/nonexistent', HF_ENDPOINT: await deadEndpoint() };
    const dir = await hubSnapshot({ repo, revision: 'main' }, { env });
    expect(dir).toBe(join(base, 'snapshots', commit));
    expect((await readFile(join(dir, 'model.safetensors'))).equals(fixture(repo, 'model.safetensors'))).toBe(true);
    expect(await hubSnapshot({ repo, revision: commit }, { env: { ...env, HF_HUB_OFFLINE: 'yes' } })).toBe(dir);
    // another branch is not cached: offline says so
    const msg = await leeError(hubSnapshot({ repo, revision: 'dev' }, { env: { ...env, HF_HUB_OFFLINE: '1' } }));
    expect(msg).toMatch(/not in the local cache .*HF_HUB_OFFLINE/);
  });

  it('private repositories take HF_TOKEN (or the login token file)', async () => {
    const priv = await startHubServer(ROOT, { token: 'hf_secret' });
    try {
      const h = await tempDir();
      const e = { HF_HOME: h, HF_ENDPOINT: priv.url };
      const msg = await leeError(hubSnapshot({ repo: RESNET, revision: 'main' }, { env: e, quiet: true }));
      expect(msg).toContain(`hub repository ${RESNET} was not found at ${priv.url}`);
      expect(msg).toContain('HF_TOKEN');
      expect(await leeError(hubSnapshot({ repo: RESNET, revision: 'main' }, { env: { ...e, HF_TOKEN: 'secret' } }))).toMatch(/start with hf_/);
      const dir = await hubSnapshot({ repo: RESNET, revision: 'main' }, { env: { ...e, HF_TOKEN: 'hf_secret' }, quiet: true });
      expect((await readFile(join(dir, 'model.safetensors'))).equals(fixture(RESNET, 'model.safetensors'))).toBe(true);
      const h2 = await tempDir();
      await writeFile(join(h2, 'token'), 'hf_secret\n');
      await hubSnapshot({ repo: RESNET, revision: 'main' }, { env: { HF_HOME: h2, HF_ENDPOINT: priv.url }, quiet: true });
    } finally {
      await priv.close();
    }
  });
});

describe('interrupted downloads', () => {
  const repo = 'timm/convnext_atto.lee_mini';
  const commit = fixtureCommit(repo);
  const weights = fixture(repo, 'model.safetensors');

  /** Nothing in the cache passes for the weights: no snapshot entry, no blob under its
   * name, no ref, and offline resolution fails. */
  async function nothingWhole(home: string): Promise<void> {
    const base = folder(home, repo);
    expect(await exists(join(base, 'snapshots', commit, 'model.safetensors'))).toBe(false);
    expect(await exists(join(base, 'blobs', sha256(weights)))).toBe(false);
    expect(await exists(join(base, 'refs', 'main'))).toBe(false);
    const msg = await leeError(hubSnapshot({ repo, revision: 'main' }, { env: { HF_HOME: home, HF_HUB_OFFLINE: '1' } }));
    expect(msg).toMatch(/model\.safetensors are not in the local cache/); // and no ref says which commit
  }

  async function rerunSucceeds(home: string): Promise<void> {
    const good = await startHubServer(ROOT);
    try {
      const dir = await hubSnapshot({ repo, revision: 'main' }, { env: { HF_HOME: home, HF_ENDPOINT: good.url }, quiet: true });
      expect((await readFile(join(dir, 'model.safetensors'))).equals(weights)).toBe(true);
      const blobs = await readdir(join(folder(home, repo), 'blobs'));
      expect(blobs.filter((b) => !b.endsWith('.incomplete')).sort()).toEqual([gitBlobId(fixture(repo, 'config.json')), sha256(weights)].sort());
    } finally {
      await good.close();
    }
  }

  it('a dropped connection leaves an .incomplete file only, and a rerun restarts it', async () => {
    const home = await tempDir();
    const bad = await startHubServer(ROOT, { drop: { afterBytes: 100_000, file: 'model.safetensors', mode: 'reset' } });
    try {
      const msg = await leeError(hubSnapshot({ repo, revision: 'main' }, { env: { HF_HOME: home, HF_ENDPOINT: bad.url }, quiet: true }));
      expect(msg).toContain(`downloading model.safetensors of ${repo}@main from ${bad.url} failed`);
      expect(msg).toContain('run again');
    } finally {
      await bad.close();
    }
    await nothingWhole(home);
    await rerunSucceeds(home);
  });

  it('a body cut short without an error is caught by its size, removed, and retried once', async () => {
    const home = await tempDir();
    const bad = await startHubServer(ROOT, { drop: { afterBytes: 100_000, file: 'model.safetensors', mode: 'short' } });
    try {
      const msg = await leeError(hubSnapshot({ repo, revision: 'main' }, { env: { HF_HOME: home, HF_ENDPOINT: bad.url }, quiet: true }));
      expect(msg).toContain(`has 100000 bytes where the hub lists ${weights.length}`);
      expect(bad.requests.filter((r) => r === `GET /${repo}/resolve/${commit}/model.safetensors`)).toHaveLength(2);
    } finally {
      await bad.close();
    }
    await nothingWhole(home);
    await rerunSucceeds(home);
  });

  it('a damaged blob already in the cache is replaced, not linked', async () => {
    const home = await tempDir();
    const blobs = join(folder(home, repo), 'blobs');
    await mkdir(blobs, { recursive: true });
    const damaged = Buffer.from(weights);
    damaged[damaged.length - 1]! ^= 0xff; // right size, wrong sha256
    await writeFile(join(blobs, sha256(weights)), damaged);
    await rerunSucceeds(home);
  });
});

describe('hub errors are one LeeError line', () => {
  let server: HubServer;
  let root: string;
  let home: string;
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ HF_HOME: home, HF_ENDPOINT: server.url, ...extra });

  beforeAll(async () => {
    root = await tempDir();
    home = await tempDir();
    await mkdir(join(root, 'timm', 'resnet18.pickle_only'), { recursive: true });
    await copyFile(join(ROOT, RESNET, 'config.json'), join(root, 'timm', 'resnet18.pickle_only', 'config.json'));
    await writeFile(join(root, 'timm', 'resnet18.pickle_only', 'pytorch_model.bin'), 'not a real pickle');
    await mkdir(join(root, 'timm', 'resnet18.lee_mini'), { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(ROOT, RESNET, f), join(root, RESNET, f));
    server = await startHubServer(root);
  });
  afterAll(() => server.close());

  it('unknown repository: the id, the endpoint, HF_TOKEN', async () => {
    const msg = await leeError(hubSnapshot({ repo: 'timm/no_such_model.x', revision: 'main' }, { env: env(), quiet: true }));
    expect(msg).toBe(`hub repository timm/no_such_model.x was not found at ${server.url} (HTTP 401): check the id; a private or gated repository needs HF_TOKEN`);
  });

  it('unknown revision', async () => {
    const msg = await leeError(hubSnapshot({ repo: RESNET, revision: 'v9' }, { env: env(), quiet: true }));
    expect(msg).toBe(`hub repository ${RESNET} at ${server.url} has no revision 'v9'`);
  });

  it('a repository without model.safetensors', async () => {
    const msg = await leeError(hubSnapshot({ repo: 'timm/resnet18.pickle_only', revision: 'main' }, { env: env(), quiet: true }));
    expect(msg).toMatch(/^hub repository timm\/resnet18\.pickle_only@main has no model\.safetensors; lee-gpu needs model\.safetensors/);
    expect(msg).toContain('pytorch_model.bin');
    // nothing half-done is recorded: no ref to a snapshot without weights
    expect(await exists(join(folder(home, 'timm/resnet18.pickle_only'), 'refs', 'main'))).toBe(false);
  });

  it('an unreachable endpoint: say so, and that HF_HUB_OFFLINE=1 uses the cache', async () => {
    const dead = await deadEndpoint();
    const msg = await leeError(hubSnapshot({ repo: RESNET, revision: 'main' }, { env: env({ HF_ENDPOINT: dead }), quiet: true }));
    expect(msg).toMatch(new RegExp(`^cannot reach the hub at ${dead} \\(.*ECONNREFUSED.*\\) to fetch ${RESNET}@main: .*HF_HUB_OFFLINE=1 to use the local cache only$`));
  });

  it('offline and not cached', async () => {
    const before = server.requests.length;
    const msg = await leeError(hubSnapshot({ repo: RESNET, revision: 'main' }, { env: env({ HF_HUB_OFFLINE: '1' }), quiet: true }));
    expect(msg).toBe(
      `hub model ${RESNET}@main: config.json, model.safetensors are not in the local cache ${join(home, 'hub')}, and HF_HUB_OFFLINE is on, so nothing is downloaded (unset HF_HUB_OFFLINE to download)`,
    );
    expect(server.requests.length).toBe(before);
  });

  it('a malformed id', async () => {
    expect(await leeError(hubSnapshot({ repo: 'timm/a/b', revision: 'main' }, { env: env() }))).toMatch(/not a hub model id/);
  });
});
