import { describe, it, expect, afterEach } from 'vitest';
import { init, shutdown, Tensor, tidy, ops } from '../engine/index.js';
import { profileByFamily, summariseProfile } from '../engine/profile.js';

afterEach(async () => {
  await shutdown();
});

describe('GPU profile (timestamp queries)', () => {
  it('times every dispatch, in order, without changing results, across query-set refills', async () => {
    const rt = await init();
    if (!rt.profile.timestamps) throw new Error('this adapter has no timestamp-query; both software adapters have it');
    const x = Tensor.fromData([0.25, -1], [2]);
    const before = rt.dispatches;
    rt.startProfile();
    // more dispatches than one query set holds (1024), so it is resolved and refilled
    const y = tidy(() => {
      let acc = ops.relu(x);
      for (let i = 0; i < 1500; i++) acc = ops.affine(acc, 1, 0.001);
      return ops.exp(acc).primal;
    });
    const times = await rt.stopProfile();
    const n = rt.dispatches - before;
    expect(times).toHaveLength(n);
    expect(times.map((t) => t.key)).toEqual(['unary:relu:false', ...Array(1500).fill('unary:affine:false'), 'unary:exp:false']);
    expect(times.every((t) => Number.isFinite(t.ns) && t.ns >= 0)).toBe(true);
    expect(times.reduce((a, t) => a + t.ns, 0)).toBeGreaterThan(0);
    const got = await y.read();
    // relu, 1500 steps of + 0.001, exp: the profiled dispatches computed as usual
    expect(got[0]).toBeCloseTo(Math.exp(1.75), 3);
    expect(got[1]).toBeCloseTo(Math.exp(1.5), 3);
    y.dispose();
    x.dispose();
    // and dispatching goes on normally once the profile is closed
    const z = tidy(() => ops.affine(Tensor.fromData([2], [1]), 3, 1).primal);
    expect(Array.from(await z.read())).toEqual([7]);
    z.dispose();
  });

  it('times buffer copies and clears between empty passes, as transfers, not dispatches', async () => {
    const rt = await init();
    const x = Tensor.fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = rt.dispatches;
    rt.startProfile();
    // rows of x, then zero rows: one copy and one clear, no kernel
    const y = ops.concatOrZeros([x, null], [[2, 3], [1, 3]], 0);
    const times = await rt.stopProfile();
    expect(rt.dispatches - before).toBe(0);
    expect(times.map((t) => t.key)).toEqual(['copy', 'clear']);
    expect(times.every((t) => Number.isFinite(t.ns) && t.ns >= 0)).toBe(true);
    expect(Array.from(await y.read())).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0]);
    y.dispose();
    x.dispose();
  });

  it('sums per kernel variant and per op family', () => {
    const rows = summariseProfile([
      { key: 'conv.direct:3x3:a', ns: 3e6 },
      { key: 'unary:relu:false', ns: 1e6 },
      { key: 'conv.direct:1x1:b', ns: 2e6 },
      { key: 'conv.direct:3x3:a', ns: 4e6 },
    ]);
    expect(rows.map((r) => [r.variant, r.dispatches, r.ms])).toEqual([
      ['conv.direct:3x3:a', 2, 7],
      ['conv.direct:1x1:b', 1, 2],
      ['unary:relu:false', 1, 1],
    ]);
    expect(rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1, 12);
    expect(profileByFamily(rows).map((r) => [r.family, r.dispatches, r.ms])).toEqual([
      ['conv.direct', 3, 9],
      ['unary', 1, 1],
    ]);
  });
});
