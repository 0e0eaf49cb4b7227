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
    for (const t of [x, bad]) t.dispose();
  });

  it('treats a shorter tangent stack as zero in the directions it lacks', async () => {
    await init();
    const a = [1, 2, 3];
    const b = [-2, 0.5, 4];
    const ta = [[0.5, -1, 2]];
    const tb = [
      [1, 2, 3],
      [-4, 5, 0.25],
      [7, -8, 9],
    ];
    const x = Tensor.fromData(a, [3]);
    const y = Tensor.fromData(b, [3]);
    const tx = Tensor.fromData(ta.flat(), [1, 3]);
    const ty = Tensor.fromData(tb.flat(), [3, 3]);
    const [sum, prod, cat] = tidy(() => [
      jvp((p, q) => ops.add(p, q), [x, y], [tx, ty]).tangents!,
      jvp((p, q) => ops.mul(p, q), [x, y], [tx, ty]).tangents!,
      jvp((p, q) => ops.concat([p, q], 0), [x, y], [tx, ty]).tangents!,
    ]);
    // direction k of an operand with fewer than k + 1 tangents is zero
    const dx = (k: number, i: number) => (k < ta.length ? ta[k]![i]! : 0);
    const dy = (k: number, i: number) => tb[k]![i]!;
    const want = (f: (k: number, i: number) => number) => Array.from({ length: 9 }, (_, j) => f(Math.floor(j / 3), j % 3));
    expect(sum.shape).toEqual([3, 3]);
    expect(Array.from(await sum.read())).toEqual(want((k, i) => dx(k, i) + dy(k, i)));
    const gotProd = await prod.read();
    want((k, i) => dx(k, i) * b[i]! + a[i]! * dy(k, i)).forEach((v, j) => expect(gotProd[j]).toBeCloseTo(v, 6));
    expect(cat.shape).toEqual([3, 6]);
    const gotCat = Array.from(await cat.read());
    expect(gotCat).toEqual(Array.from({ length: 18 }, (_, j) => (j % 6 < 3 ? dx(Math.floor(j / 6), j % 6) : dy(Math.floor(j / 6), (j % 6) - 3))));
    for (const t of [x, y, tx, ty, sum, prod, cat]) t.dispose();
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
