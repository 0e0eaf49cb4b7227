import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, dual, init, ops, runtime, shutdown, tidy } from '../engine/index.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('layout ops', () => {
  it('copy values bit for bit (subnormals, signed zeros, infinities)', async () => {
    const values = Float32Array.from([1e-40, -1e-45, 0, -0, Infinity, -Infinity, 3.4e38, -1.17e-38, 7, -7, 0.1, 1e-7]);
    const x = Tensor.fromData(values, [3, 4]);
    const outs = [
      ops.permute(x, [1, 0]).primal,
      ops.pad(x, [0, 1, 1, 0], 'reflect').primal,
      ops.concat([x, x], 0).primal,
      ops.expand(x, [2, 3, 4]).primal,
    ];
    const want = [
      [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11],
      [4, 5, 6, 7, 6, 0, 1, 2, 3, 2, 4, 5, 6, 7, 6, 8, 9, 10, 11, 10],
      [...Array(12).keys(), ...Array(12).keys()],
      [...Array(12).keys(), ...Array(12).keys()],
    ];
    const src = bits(values);
    for (const [i, t] of outs.entries()) expect(bits(await t.read())).toEqual(want[i]!.map((j) => src[j]));
    for (const t of [x, ...outs]) t.dispose();
  });

  it('reshape is a view: no kernel runs, tangents reshape with their K axis', async () => {
    const x = Tensor.fromData([1, 2, 3, 4, 5, 6], [2, 3]);
    const t = Tensor.fromData([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]);
    const before = runtime().dispatches;
    const y = ops.reshape(dual(x, t), [3, -1]);
    expect(runtime().dispatches).toBe(before);
    expect(y.primal.shape).toEqual([3, 2]);
    expect(y.tangents!.shape).toEqual([2, 3, 2]);
    for (const v of [x, t, y.primal, y.tangents!]) v.dispose();
  });

  it('concatOrZeros fills null parts with zeros, even over stale pool buffers', async () => {
    // a released buffer of the output's size class holds non-zeros before the call
    Tensor.fromData(new Float32Array(40).fill(9), [40]).dispose();
    const a = Tensor.fromData([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const b = Tensor.fromData([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], [2, 2, 3]);
    const y = ops.concatOrZeros([null, a, null, b], [[2, 2, 3], [1, 2, 3], [0, 2, 3], [2, 2, 3]], 0);
    expect(y.shape).toEqual([5, 2, 3]);
    expect(Array.from(await y.read())).toEqual([...Array(12).fill(0), 1, 2, 3, 4, 5, 6, ...Array.from({ length: 12 }, (_, i) => 7 + i)]);
    const z = ops.concatOrZeros([null, a], [[1, 1, 3], [1, 2, 3]], 1);
    expect(Array.from(await z.read())).toEqual([0, 0, 0, 1, 2, 3, 4, 5, 6]);
    expect(() => ops.concatOrZeros([a], [[2, 2, 3]], 0)).toThrow(/part 0 is \[1, 2, 3\]/);
    for (const t of [a, b, y, z]) t.dispose();
  });

  it('overwriteRows replaces the given leading rows in place and leaves the rest', async () => {
    const dst = Tensor.fromData(Array.from({ length: 24 }, (_, i) => i), [4, 2, 3]);
    const src = Tensor.fromData([-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12], [2, 2, 3]);
    ops.overwriteRows(dst, 1, src);
    const want = Array.from({ length: 24 }, (_, i) => (i >= 6 && i < 18 ? -(i - 5) : i));
    expect(Array.from(await dst.read())).toEqual(want);
    expect(() => ops.overwriteRows(dst, 3, src)).toThrow(/does not fit \[4, 2, 3\] at row 3/);
    expect(() => ops.overwriteRows(dst, 0, Tensor.fromData([1, 2], [1, 2]))).toThrow(/does not fit/);
    for (const t of [dst, src]) t.dispose();
  });

  it('moves whole leading rows as buffer copies, with no kernel, up to 64 runs', async () => {
    const rows = (k: number, n: number) => Tensor.fromData(Array.from({ length: k * n * 6 }, (_, i) => i), [k, n, 2, 3]);
    const expected = (k: number, n: number, a: number, b: number) =>
      Array.from({ length: k }, (_, t) => Array.from({ length: (b - a) * 6 }, (_, i) => t * n * 6 + a * 6 + i)).flat();
    for (const k of [3, 64, 65]) {
      // tangents [k, 5, 2, 3]: slicing rows 1..4 of each is k runs at offsets
      const x = dual(Tensor.fromData(new Float32Array(30), [5, 2, 3]), rows(k, 5));
      const before = runtime().dispatches;
      const y = ops.slice(x, [1], [4]);
      // the primal's slice is one run; the tangents' are k runs, a kernel past 64
      expect(runtime().dispatches - before).toBe(k > 64 ? 1 : 0);
      expect(Array.from(await y.tangents!.read())).toEqual(expected(k, 5, 1, 4));
      for (const t of [x.primal, x.tangents!, y.primal, y.tangents!]) t.dispose();
    }
    const a = rows(2, 1);
    const before = runtime().dispatches;
    const z = ops.concatOrZeros([a, null, a], [[2, 1, 2, 3], [1, 1, 2, 3], [2, 1, 2, 3]], 0);
    expect(runtime().dispatches).toBe(before);
    expect(Array.from(await z.read())).toEqual([...Array(12).keys(), ...Array(6).fill(0), ...Array(12).keys()]);
    for (const t of [a, z]) t.dispose();
  });

  it('does not leak buffers inside tidy', async () => {
    const live = runtime().pool.liveCount;
    tidy(() => {
      const x = dual(Tensor.fromData(new Float32Array(24), [2, 3, 4]), Tensor.fromData(new Float32Array(48), [2, 2, 3, 4]));
      ops.concat([ops.pad(x, [1, 1], 'reflect'), ops.slice(x, [0], [2])], -1);
      ops.roll(ops.flip(x, 1), 1, 2);
    });
    expect(runtime().pool.liveCount).toBe(live);
  });

  it('reject bad arguments with a clear message', () => {
    const x = Tensor.fromData(new Float32Array(24), [2, 3, 4]);
    const cases: [() => unknown, RegExp][] = [
      [() => ops.reshape(x, [5, -1]), /reshape: cannot reshape 24 elements to \[5, -1\]/],
      [() => ops.reshape(x, [-1, -1]), /reshape: invalid target shape/],
      [() => ops.permute(x, [0, 0, 1]), /permute: \[0, 0, 1\] is not a permutation/],
      [() => ops.permute(x, [0, 1]), /must have 3 entries/],
      [() => ops.transpose(x, 0, 3), /axis 3 out of range for rank 3/],
      [() => ops.slice(x, [0], [1], [0]), /step != 0/],
      [() => ops.narrow(x, 2, 3, 2), /narrow: start 3 and length 2 out of range/],
      [() => ops.pad(x, [4, 0], 'reflect'), /'reflect' needs pads < the axis size/],
      [() => ops.pad(x, [1, 0, 0], 'zero'), /must be integer pairs/],
      [() => ops.pad(x, [-1, 0], 'circular'), /negative pads are only supported in 'zero' mode/],
      [() => ops.pad(x, [-3, -2], 'zero'), /negative size/],
      [() => ops.concat([x, Tensor.fromData(new Float32Array(6), [2, 3])], 0), /concat: shapes \[2, 3, 4\] and \[2, 3\] differ/],
      [() => ops.concat([], 0), /at least one input/],
      [() => ops.expand(x, [2, 5, 4]), /expand: cannot expand to \[2, 5, 4\]/],
      [() => ops.expand(x, [3, 4]), /fewer axes than the input/],
      [() => ops.roll(x, [1, 2], [0]), /one integer shift per axis/],
      [() => ops.squeeze(x, 1), /axis 1 has size 3, not 1/],
      [() => tidy(() => ops.permute(Tensor.empty([1, 1, 1, 1, 1, 1, 1, 1, 1]), [...Array(9).keys()])), /rank 9 exceeds the supported maximum 8/],
    ];
    for (const [f, msg] of cases) expect(f).toThrow(msg);
    x.dispose();
  });
});
