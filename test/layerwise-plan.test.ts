import { describe, it, expect } from 'vitest';
import { planPasses, type Layer } from '../lee/layerwise.js';
import { Rng } from '../engine/random.js';

const none = { kind: 'none' } as Layer['input'];

function layers(sizes: number[], activeEvery: (i: number) => boolean): Layer[] {
  return sizes.map((n, i) => ({ name: `l${i}`, type: 'T', order: i, inShape: [n], outShape: [1, n], input: none, output: none, zero: !activeEvery(i) }));
}

/** The widest stack of a pass, straight from the definition: at each layer output t,
 * (layers of the pass called at or before t) x |h_t| x 4 bytes. */
function widest(all: Layer[], pass: Layer[]): number {
  let w = 0;
  for (const l of all) w = Math.max(w, pass.filter((p) => p.order <= l.order).length * l.outShape[1]! * 4);
  return w;
}

describe('layerwise pass planning (no GPU)', () => {
  it('takes consecutive layers while the widest stack fits, and no more', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 50; trial++) {
      const sizes = Array.from({ length: 40 }, () => 1 + Math.floor(rng.uniform() * 1000));
      const all = layers(sizes, () => rng.uniform() < 0.6);
      const active = all.filter((l) => !l.zero);
      const budget = 4 * (500 + Math.floor(rng.uniform() * 20000));
      const chunk = trial % 3 === 0 ? 1 + Math.floor(rng.uniform() * 6) : Infinity;
      const passes = planPasses(all, active, budget, chunk);
      expect(passes.flat()).toEqual(active);
      passes.forEach((pass, p) => {
        expect(pass.length).toBeGreaterThan(0);
        expect(pass.length).toBeLessThanOrEqual(chunk);
        if (pass.length > 1) expect(widest(all, pass)).toBeLessThanOrEqual(budget);
        const next = passes[p + 1]?.[0];
        // greedy: the next pass's first layer would not have fitted this one
        if (next && pass.length < chunk) expect(widest(all, [...pass, next])).toBeGreaterThan(budget);
      });
    }
  });

  it('puts every layer in one pass when the budget allows, one per pass at chunk 1', () => {
    const all = layers([8, 16, 4, 32, 2], (i) => i !== 1);
    const active = all.filter((l) => !l.zero);
    expect(planPasses(all, active, 1e9)).toEqual([active]);
    expect(planPasses(all, active, 1e9, 1)).toEqual(active.map((l) => [l]));
    // a layer wider than the budget still runs, alone
    expect(planPasses(all, active, 4)).toEqual(active.map((l) => [l]));
  });
});
