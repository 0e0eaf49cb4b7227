import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, Tensor, ops, type Dual } from '../engine/index.js';
import { layoutOf, mapLayout, mapLieDerivative } from '../lee/featuremaps.js';
import { GENERATORS, type SpatialGenerator } from '../lee/transforms.js';
import { Rng } from './helpers/random.js';
import { expectClose } from './helpers/compare.js';
import { generatorTangentRef } from './ref/lie.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

const [B, C, H, W] = [2, 3, 5, 7];
const spatial = GENERATORS.filter((g): g is SpatialGenerator => g !== 'saturate');
const image = (seed: number) => Float32Array.from(new Rng(seed).normals(B * C * H * W));

async function maxAbs(t: Tensor): Promise<number> {
  return Math.max(...(await t.read()).map(Math.abs));
}

describe('Lie derivatives of image-like outputs (L = J G_in x - G_out f)', () => {
  it('reads layouts as SPEC 5.4 says', () => {
    expect(mapLayout([2, 8, 4, 4])).toEqual({ kind: 'bchw' });
    expect(mapLayout([2, 8, 1, 1])).toEqual({ kind: 'none' });
    expect(mapLayout([2, 196, 64])).toEqual({ kind: 'tokens', prefix: 0 });
    expect(mapLayout([2, 197, 64])).toEqual({ kind: 'tokens', prefix: 1 });
    expect(mapLayout([2, 198, 64])).toEqual({ kind: 'tokens', prefix: 2 });
    expect(mapLayout([2, 10])).toEqual({ kind: 'none' });
  });

  it('a model hint overrides the shape (channels-last, tokens on the last axis, hidden units)', () => {
    expect(layoutOf([2, 16, 16, 16], 'bhwc')).toEqual({ kind: 'bhwc' });
    expect(layoutOf([2, 1, 1, 16], 'bhwc')).toEqual({ kind: 'none' });
    expect(layoutOf([2, 16, 197], 'tokens_last')).toEqual({ kind: 'tokens_last', prefix: 1 });
    expect(layoutOf([2, 16, 64], 'none')).toEqual({ kind: 'none' });
    expect(layoutOf([2, 16, 64])).toEqual({ kind: 'tokens', prefix: 0 });
    expect(() => layoutOf([2, 16, 7], 'tokens_last')).toThrow(/\[B, C, e \+ k\^2\]/);
  });

  it('a 1x1 convolution is exactly equivariant: zero for every generator', async () => {
    const x = Tensor.fromData(image(1), [B, C, H, W]);
    const w = Tensor.fromData(Float32Array.from(new Rng(2).normals(4 * C)), [4, C, 1, 1]);
    const { output, lie } = mapLieDerivative((d: Dual) => ops.conv2d(d, w, null), x, { transforms: GENERATORS });
    expect(lie.shape).toEqual([10, B, 4, H, W]);
    expect(await maxAbs(lie)).toBeLessThan(1e-5 * (await maxAbs(output)));
    for (const t of [x, w, output, lie]) t.dispose();
  });

  it('multiplying by a fixed spatial pattern is not: L = P (G x) - G (P x)', async () => {
    const data = image(3);
    const pattern = Float32Array.from(new Rng(4).normals(H * W));
    const x = Tensor.fromData(data, [B, C, H, W]);
    const p = Tensor.fromData(pattern, [1, 1, H, W]);
    const { lie } = mapLieDerivative((d: Dual) => ops.mul(d, p), x, { transforms: spatial });
    const got = await lie.read();
    const px = data.map((v, i) => v * pattern[i % (H * W)]!);
    spatial.forEach((g, k) => {
      const gx = generatorTangentRef(data, B * C, H, W, g, 'bilinear');
      const gpx = generatorTangentRef(px, B * C, H, W, g, 'bilinear');
      const want = gx.map((v, i) => pattern[i % (H * W)]! * v - gpx[i]!);
      expectClose(got.subarray(k * data.length, (k + 1) * data.length), want, { rtol: 1e-5, atol: 1e-5 }, g);
    });
    for (const t of [x, p, lie]) t.dispose();
  });

  it('tokens with a class token: flattening pixels into tokens is equivariant, the prefix untouched', async () => {
    const side = 5;
    const xs = Tensor.fromData(Float32Array.from(new Rng(6).normals(B * C * side * side)), [B, C, side, side]);
    const cls = Tensor.fromData(Float32Array.from(new Rng(7).normals(B * C)), [B, 1, C]);
    const toTokens = (d: Dual) => ops.concat([cls, ops.permute(ops.reshape(d, [B, C, side * side]), [0, 2, 1])], 1);
    const { output, lie } = mapLieDerivative(toTokens, xs, { transforms: GENERATORS });
    expect(output.shape).toEqual([B, 1 + side * side, C]);
    expect(await maxAbs(lie)).toBeLessThan(1e-5 * (await maxAbs(output)));
    for (const t of [xs, cls, output, lie]) t.dispose();
  });

  it('tokens on the last axis: pixels flattened channels-first are equivariant', async () => {
    const x = Tensor.fromData(Float32Array.from(new Rng(9).normals(B * C * H * H)), [B, C, H, H]);
    const { output, lie } = mapLieDerivative((d: Dual) => ops.reshape(d, [B, C, H * H]), x, {
      transforms: GENERATORS,
      outputLayout: { kind: 'tokens_last', prefix: 0 },
    });
    expect(output.shape).toEqual([B, C, H * H]);
    expect(await maxAbs(lie)).toBeLessThan(1e-6);
    for (const t of [x, output, lie]) t.dispose();
  });

  it('channels-last maps transform their middle axes', async () => {
    const x = Tensor.fromData(image(8), [B, C, H, W]);
    const { output, lie } = mapLieDerivative((d: Dual) => ops.permute(d, [0, 2, 3, 1]), x, {
      transforms: GENERATORS,
      outputLayout: { kind: 'bhwc' },
    });
    expect(output.shape).toEqual([B, H, W, C]);
    expect(await maxAbs(lie)).toBeLessThan(1e-6);
    for (const t of [x, output, lie]) t.dispose();
  });
});
