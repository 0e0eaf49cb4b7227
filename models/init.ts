import type { HostTensor } from '../engine/safetensors.js';
import { Rng } from '../engine/random.js';
import { namedParams, type Module } from './module.js';

/** A seeded random state_dict for `model` whose activations stay O(1) through deep
 * nets: He-normal conv/linear weights, identity-ish norms, a small classifier, small
 * embeddings and layer scales. For smoke tests and the embedded default only: this is
 * not a trained model. */
export function randomWeights(model: Module, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [key, p] of namedParams(model)) {
    const shape = [...p.shape];
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const leaf = key.split('.').pop()!;
    let data: Float64Array;
    if (leaf === 'running_var') data = rng.uniforms(n, 0.5, 1.5);
    else if (leaf === 'running_mean' || leaf === 'bias') data = rng.normals(n, 0.1);
    else if (leaf === 'gamma') data = rng.uniforms(n, 0.1, 0.5);
    else if (/(cls_token|dist_token|pos_embed)$/.test(key)) data = rng.normals(n, 0.02);
    else if (shape.length === 1) data = rng.uniforms(n, 0.5, 1);
    else if (/^(fc|head|head_dist|head\.fc|classifier)\.weight$/.test(key)) data = rng.normals(n, 0.01);
    else data = rng.normals(n, Math.sqrt(2 / fanIn));
    out.set(key, { shape, data: Float32Array.from(data), dtype: 'F32' });
  }
  return out;
}
