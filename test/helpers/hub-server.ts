import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** How a server misbehaves on file downloads (the full GET, not the 1-byte size probe). */
export interface HubServerDrop {
  /** bytes of the body sent before the fault */
  afterBytes: number;
  /** 'reset': Content-Length announced, then the socket is destroyed mid-body (a dropped
   * connection); 'short': no Content-Length (chunked), the body just ends early (a proxy
   * that truncates silently). Default 'reset'. */
  mode?: 'reset' | 'short';
  /** only this file name (default: every file) */
  file?: string;
}

export interface HubServerOptions {
  drop?: HubServerDrop;
  /** every repository is private: requests need `Authorization: Bearer <token>` */
  token?: string;
}

export interface HubServer {
  /** the endpoint, for HF_ENDPOINT */
  url: string;
  close(): Promise<void>;
  /** one line per request: `METHOD /path` plus ` [Range]` when a Range was asked */
  requests: string[];
}

/** The fake commit id the server gives a repository: fixed per repo id, so a test can
 * name the snapshot directory a download lands in. */
export function fixtureCommit(repo: string): string {
  return createHash('sha1').update(`lee-gpu hub fixture ${repo}`).digest('hex');
}

/** git's blob id: sha1 of `blob <size>\0<bytes>` (the hub's oid / ETag of a non-LFS file). */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Files the hub would keep in LFS (what timm's repositories hold there). */
const isLfs = (path: string): boolean => /\.(safetensors|bin|pth|pt|npz|onnx)$/.test(path);

interface Entry {
  path: string;
  bytes: Buffer;
  oid: string;
  lfsOid?: string;
}

/** The hub's answer to paths-info for one file (huggingface.co's JSON fields). */
function pathInfo(e: Entry, commit: string, expand: boolean): object {
  return {
    type: 'file',
    path: e.path,
    size: e.bytes.length,
    oid: e.oid,
    ...(e.lfsOid ? { lfs: { oid: e.lfsOid, size: e.bytes.length, pointerSize: 134 } } : {}),
    ...(expand ? { lastCommit: { id: commit, title: 'fixture', date: '2024-01-01T00:00:00.000Z' }, securityFileStatus: { status: 'safe' } } : {}),
  };
}

function readRepo(dir: string): Map<string, Entry> {
  const files = new Map<string, Entry>();
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if (statSync(join(dir, rel)).isDirectory()) {
        walk(rel);
        continue;
      }
      const bytes = readFileSync(join(dir, rel));
      files.set(rel, { path: rel, bytes, oid: gitBlobId(bytes), ...(isLfs(rel) ? { lfsOid: sha256(bytes) } : {}) });
    }
  };
  walk('');
  return files;
}

function send(res: ServerResponse, status: number, body: string | object, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });

/** A local stand-in for huggingface.co serving `root/<org>/<name>/<files>` as model
 * repositories, each at one commit (`fixtureCommit`, also reachable as `main`):
 * `GET /api/models/<repo>/revision/<rev>` (model info with `sha`), `POST
 * /api/models/<repo>/paths-info/<rev>`, and `GET|HEAD /<repo>/resolve/<rev>/<file>` with
 * Range support, ETag, X-Repo-Commit, X-Linked-Size / X-Linked-Etag for LFS files. Errors
 * carry the hub's X-Error-Code (RepoNotFound as 401, RevisionNotFound, EntryNotFound as
 * 404) and JSON `{ error }` body. Files are read on each request, so a test may add or
 * change repositories while the server runs. CORS headers as huggingface.co sends them
 * (and preflights answered), so a web page may fetch from it. Listens on 127.0.0.1,
 * ephemeral port. */
export async function startHubServer(root: string, opts: HubServerOptions = {}): Promise<HubServer> {
  const requests: string[] = [];

  const repoOf = (org: string, name: string, req: IncomingMessage): { id: string; commit: string; files: Map<string, Entry> } | undefined => {
    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) return undefined;
    const dir = join(root, org, name);
    try {
      if (!statSync(dir).isDirectory()) return undefined;
    } catch {
      return undefined;
    }
    const id = `${org}/${name}`;
    return { id, commit: fixtureCommit(id), files: readRepo(dir) };
  };
  const repoNotFound = (res: ServerResponse): void =>
    send(res, 401, { error: 'Repository Not Found' }, { 'X-Error-Code': 'RepoNotFound', 'X-Error-Message': 'Repository Not Found' });
  const revisionNotFound = (res: ServerResponse, rev: string): void =>
    send(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound', 'X-Error-Message': 'Invalid rev id' });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` [${req.headers.range}]` : ''}`);
    // huggingface.co answers browsers from any origin (the web app fetches from it)
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, ETag, X-Error-Code, X-Error-Message, X-Repo-Commit, X-Linked-Size, X-Linked-Etag');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD, POST', 'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type, Accept', 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }

    let m = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/(.+)$/.exec(path);
    if (m && req.method === 'GET') {
      const repo = repoOf(m[1]!, m[2]!, req);
      if (!repo) return repoNotFound(res);
      if (m[3] !== 'main' && m[3] !== 'HEAD' && m[3] !== repo.commit) return revisionNotFound(res, m[3]!);
      return send(res, 200, {
        _id: repo.commit.slice(0, 24), id: repo.id, sha: repo.commit, private: opts.token !== undefined, gated: false,
        downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z', library_name: 'timm',
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      });
    }

    m = /^\/api\/models\/([^/]+)\/([^/]+)\/paths-info\/(.+)$/.exec(path);
    if (m && req.method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}') as { paths?: string[]; expand?: boolean };
      const repo = repoOf(m[1]!, m[2]!, req);
      if (!repo) return repoNotFound(res);
      if (m[3] !== 'main' && m[3] !== repo.commit) return revisionNotFound(res, m[3]!);
      const found = (body.paths ?? []).flatMap((p) => {
        const e = repo.files.get(p);
        return e ? [pathInfo(e, repo.commit, body.expand === true)] : [];
      });
      return send(res, 200, found);
    }

    m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      const repo = repoOf(m[1]!, m[2]!, req);
      if (!repo) return repoNotFound(res);
      if (m[3] !== 'main' && m[3] !== repo.commit) return revisionNotFound(res, m[3]!);
      const e = repo.files.get(m[4]!);
      if (!e) return send(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found' });
      const size = e.bytes.length;
      const etag = e.lfsOid ?? e.oid;
      const headers: Record<string, string> = {
        'Content-Type': 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        ETag: `"${etag}"`,
        'X-Repo-Commit': repo.commit,
        ...(e.lfsOid ? { 'X-Linked-Size': String(size), 'X-Linked-Etag': `"${e.lfsOid}"` } : {}),
      };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
        if (start > end) return send(res, 416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${size}` });
        res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) });
        res.end(req.method === 'HEAD' ? undefined : e.bytes.subarray(start, end + 1));
        return;
      }
      const drop = opts.drop;
      if (req.method === 'GET' && drop && (drop.file === undefined || drop.file === m[4]) && drop.afterBytes < size) {
        const part = e.bytes.subarray(0, drop.afterBytes);
        if (drop.mode === 'short') {
          res.writeHead(200, headers); // no Content-Length: chunked, ends cleanly but early
          res.end(part);
        } else {
          res.writeHead(200, { ...headers, 'Content-Length': String(size) });
          res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
        }
        return;
      }
      res.writeHead(200, { ...headers, 'Content-Length': String(size) });
      res.end(req.method === 'HEAD' ? undefined : e.bytes);
      return;
    }
    send(res, 404, { error: `no route for ${req.method} ${path}` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: String(e) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
