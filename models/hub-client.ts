import { LeeError } from '../engine/errors.js';

/** A fetch for @huggingface/hub that asks for plain bytes rather than the xet
 * reconstruction protocol (so every byte passes here and can be counted), counts the
 * bodies of file downloads (not the 1-byte size probes), and remembers the hub's
 * X-Error-Code of the last answer, which names the failure better than the status.
 * Plain fetch, so Node's download and the browser's share it. */
export function hubFetch(onBytes: (n: number) => void, seen: { errorCode?: string }, signal?: AbortSignal): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (headers.get('accept')?.includes('xet')) headers.set('accept', '*/*');
    const res = await fetch(input, { ...init, headers, ...(signal ? { signal } : {}) });
    seen.errorCode = res.headers.get('x-error-code') ?? undefined;
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!res.ok || !res.body || headers.get('range') === 'bytes=0-0' || !url.includes('/resolve/')) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          onBytes(chunk.byteLength);
          out.enqueue(chunk);
        },
      }),
    );
    const out = new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(out, 'url', { value: res.url });
    return out;
  };
}

/** Where a hub request failed, for the message. */
export interface HubWhere {
  repo: string;
  revision: string;
  endpoint: string;
  file?: string;
  errorCode?: string;
}

/** The hub client's error classes (the CLI imports the client lazily). */
export interface HubErrorClasses {
  HubApiError: abstract new (...args: never[]) => Error & { statusCode: number; data?: { error?: unknown } };
  InvalidApiResponseFormatError: abstract new (...args: never[]) => Error;
}

/** One line for a person when the hub itself answered with an error (status, hub error
 * code, a malformed answer); undefined for anything else (network, disk, bugs), which
 * each caller words for its own setting. `token` says how to give an access token,
 * `endpointName` what sets the endpoint. */
export function hubAnswerError(e: unknown, w: HubWhere, hub: HubErrorClasses, token: { give: string; needs: string }, endpointName: string): LeeError | undefined {
  const name = `${w.repo}@${w.revision}`;
  if (e instanceof hub.HubApiError) {
    const status = e.statusCode;
    if (w.errorCode === 'GatedRepo') return new LeeError(`hub repository ${w.repo} is gated: accept its conditions on ${w.endpoint}/${w.repo} and ${token.give} of that account`);
    if (w.errorCode === 'RevisionNotFound') return new LeeError(`hub repository ${w.repo} at ${w.endpoint} has no revision '${w.revision}'`);
    if (w.errorCode === 'EntryNotFound') return new LeeError(`hub repository ${name} has no ${w.file ?? 'such file'}`);
    if (w.errorCode === 'RepoNotFound' || status === 401 || status === 403 || status === 404) {
      return new LeeError(`hub repository ${w.repo} was not found at ${w.endpoint} (HTTP ${status}): check the id; a private or gated repository needs ${token.needs}`);
    }
    const said = typeof e.data?.error === 'string' ? `: ${e.data.error}` : '';
    return new LeeError(`the hub at ${w.endpoint} answered HTTP ${status} for ${name}${w.file ? ` (${w.file})` : ''}${said}; try again later`);
  }
  if (e instanceof hub.InvalidApiResponseFormatError) {
    return new LeeError(`the hub at ${w.endpoint} gave an unexpected answer for ${name}${w.file ? ` (${w.file})` : ''}: ${e.message}; is ${endpointName} a Hugging Face hub?`);
  }
  return undefined;
}
