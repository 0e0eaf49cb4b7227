import { Rng } from '../../engine/random.js';

export { Rng };

/** Distinct values at least 0.01 apart in random order: no window or row holds a
 * near-tie, so central differences of a max see one smooth branch (ties have their own
 * convention rows). */
export function distinct(rng: Rng, n: number): Float64Array {
  const v = Float64Array.from({ length: n }, (_, i) => Math.fround((i - n / 2) * 0.01 + 0.003));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}
