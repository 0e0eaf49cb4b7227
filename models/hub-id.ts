import { LeeError } from '../engine/errors.js';

/** A Hugging Face hub model repository and the git revision (branch, tag or commit) to read. */
export interface HubId {
  repo: string;
  revision: string;
}

const FORM = 'hub ids look like timm/resnet50.a1_in1k, optionally hf-hub: before and @<revision> after';
// huggingface_hub's validate_repo_id: word characters, '-' and '.', starting and ending
// with a word character, no '--' or '..', at most 96 characters in all
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
// a branch, tag or commit: git ref characters without '..', no leading or trailing '/'
const REVISION = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

/** The hub repository a `--model` value names: `org/name[@rev]` or timm's own
 * `hf-hub:org/name[@rev]` (revision `main` by default). A name without a '/' (`resnet50`,
 * `resnet50.a1_in1k`) is a built-in architecture: undefined. Anything else that tries
 * to be a hub id and is not one is a LeeError. */
export function parseHubId(model: string): HubId | undefined {
  const prefixed = model.startsWith('hf-hub:');
  const body = prefixed ? model.slice('hf-hub:'.length) : model;
  if (!prefixed && !body.includes('/')) return undefined;
  const bad = (why: string): LeeError => new LeeError(`'${model}' is not a hub model id: ${why} (${FORM})`);
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2) throw bad(parts.length < 2 ? 'it needs an organisation and a name, org/name' : 'it has more than one /');
  const [org, name] = parts as [string, string];
  if (!org || !name) throw bad('the organisation or the name is empty');
  for (const part of parts) {
    if (!PART.test(part) || part.includes('--') || part.includes('..')) {
      throw bad(`'${part}' may hold only letters, digits, '_', '-' and '.', must start and end with a letter, digit or '_', and has no '--' or '..'`);
    }
  }
  if (repo.length > 96) throw bad('the repository id is longer than 96 characters');
  if (!revision) throw bad("the revision after '@' is empty");
  if (!REVISION.test(revision) || revision.includes('..')) throw bad(`'${revision}' is not a branch, tag or commit name`);
  return { repo, revision };
}

/** A full git commit id: 40 lower-case hex digits (what refs/<branch> holds in the cache). */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}
