import { describe, it, expect, afterEach } from 'vitest';
import { init, shutdown, runtime, Tensor, tidy, keep, dual, jvp, ops, LeeError } from '../engine/index.js';
import { sizeClass } from '../engine/pool.js';

afterEach(async () => {
  await shutdown();
});

describe('runtime', () => {
  it('round-trips data through the GPU', async () => {
    await init();
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e3);
    const t = Tensor.fromData(data, [10, 100]);
    expect(Array.from(await t.read())).toEqual(Array.from(data));
    t.dispose();
  });

  it('tidy frees intermediates and keeps what is returned', async () => {
    const rt = await init();
    const x = Tensor.fromData([1, -2, 3, -4], [4]);
    const before = rt.pool.liveCount;
    const y = tidy(() => ops.relu(ops.mul(ops.add(x, x), x)));
    // (x + x) x = 2 x^2
    // only the result survives: (x + x) and its product were freed
    expect(rt.pool.liveCount).toBe(before + 1);
    expect(Array.from(await y.primal.read())).toEqual([2, 8, 18, 32]);
    y.primal.dispose();
    x.dispose();
    expect(rt.pool.liveCount).toBe(before - 1);
  });

  it('nested scopes hand results outwards, keep() takes ownership', async () => {
    const rt = await init();
    const x = Tensor.fromData([1, 2], [2]);
    let inner: Tensor | null = null;
    const outer = tidy(() => {
      inner = tidy(() => ops.exp(x).primal);
      const kept = keep(ops.neg(x).primal);
      ops.square(x);
      return kept;
    });
    expect(inner!.disposed).toBe(true);
    expect(outer.disposed).toBe(false);
    expect(Array.from(await outer.read())).toEqual([-1, -2]);
    outer.dispose();
    x.dispose();
    expect(rt.pool.liveCount).toBe(0);
  });

  it('reshape is a view that keeps the buffer alive until the last view is freed', async () => {
    const rt = await init();
    const t = Tensor.fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.reshape([3, -1]);
    expect(v.shape).toEqual([3, 2]);
    t.dispose();
    expect(Array.from(await v.read())).toEqual([1, 2, 3, 4, 5, 6]);
    v.dispose();
    expect(rt.pool.liveCount).toBe(0);
    expect(() => v.buffer).toThrow(/after dispose/);
  });

  it('reuses pooled buffers and keeps memory flat over a long run', async () => {
    const rt = await init();
    const x = Tensor.fromData(new Float32Array(4096).fill(0.5), [4096]);
    for (let i = 0; i < 300; i++) tidy(() => void ops.gelu(ops.mul(x, x)));
    const live = rt.pool.liveBytes;
    for (let i = 0; i < 300; i++) tidy(() => void ops.gelu(ops.mul(x, x)));
    expect(rt.pool.liveBytes).toBe(live);
    expect(rt.pool.liveCount).toBe(1);
    x.dispose();
  });

  it('size classes waste at most 12.5 %', () => {
    for (const n of [1, 1000, 1025, 4097, 123457, 1 << 24]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      if (n > 1024) expect(c / n).toBeLessThanOrEqual(1.125);
    }
  });

  it('many dispatches in one command buffer give the right result', async () => {
    await init();
    const x = Tensor.fromData([0.25], [1]);
    const y = tidy(() => {
      let acc = ops.affine(x, 1, 0);
      for (let i = 0; i < 600; i++) acc = ops.affine(acc, 1, 1);
      return acc.primal;
    });
    expect(Array.from(await y.read())).toEqual([600.25]);
    y.dispose();
    x.dispose();
  });

  it('rejects tangents whose shape does not match the primal', async () => {
    await init();
    const x = Tensor.fromData([1, 2, 3], [3]);
    const bad = Tensor.fromData([1, 2, 3], [3]);
    expect(() => dual(x, bad)).toThrow(/leading K axis/);
    const t1 = Tensor.fromData([1, 2, 3], [1, 3]);
    const t2 = Tensor.fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => jvp((a, b) => ops.add(a, b), [x, x], [t1, t2])).toThrow(/different numbers of tangents/);
    for (const t of [x, bad, t1, t2]) t.dispose();
  });

  it('reports a lost device as an error instead of hanging', async () => {
    const rt = await init();
    const t = Tensor.fromData([1, 2, 3], [3]);
    rt.device.destroy();
    await expect(t.read()).rejects.toThrow(LeeError);
    await expect(t.read()).rejects.toThrow(/device lost/);
  });

  it('surfaces GPU validation errors on the next read', async () => {
    const rt = await init();
    const t = Tensor.fromData([1], [1]);
    runtime().dispatch({
      key: 'broken-shader-test',
      source: () => '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_symbol; }',
      inputs: [],
      outputs: [t.buffer],
      workgroups: [1],
    });
    await expect(rt.sync()).rejects.toThrow(/WebGPU error/);
    t.dispose();
  });
});
