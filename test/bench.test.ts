import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { interleavedMediansMs } from '../engine/bench.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

describe('interleaved medians', () => {
  it('warms each run up once, then times them in turn, and gives each its own median', async () => {
    const calls: string[] = [];
    // busy-waits: a run cannot take less than its wait, whatever the host does
    const busy = (name: string, ms: number) => () => {
      calls.push(name);
      const t0 = performance.now();
      while (performance.now() - t0 < ms);
    };
    const [a, b] = await interleavedMediansMs([busy('a', 12), busy('b', 2)], 3);
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(a).toBeGreaterThanOrEqual(12);
    expect(b).toBeGreaterThanOrEqual(2);
  });
});
