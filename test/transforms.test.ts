import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown, Tensor, tidy, dual, ops } from '../engine/index.js';
import { GENERATORS, GENERATOR_MATRIX, identityGrid, parseGenerators, tangentBasis, type Generator, type SpatialGenerator } from '../lee/transforms.js';
import { imageTangents } from '../lee/lie.js';
import { Rng } from './helpers/random.js';
import { expectClose } from './helpers/compare.js';
import { generatorTangentRef } from './ref/lie.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

const B = 2;
const C = 3;
const H = 6;
const W = 9;

function image(seed: number): Float32Array {
  return Float32Array.from(new Rng(seed).normals(B * C * H * W));
}

function expectedTangent(x: Float32Array, g: SpatialGenerator, interp: 'bilinear' | 'bicubic'): Float64Array {
  return generatorTangentRef(x, B * C, H, W, g, interp);
}

describe('transforms', () => {
  it('at t = 0 the resampled image equals the input bit for bit', async () => {
    for (const interp of ['bilinear', 'bicubic'] as const) {
      const data = image(1);
      const x = Tensor.fromData(data, [B, C, H, W]);
      const grid = Tensor.fromData(identityGrid(H, W), [1, H, W, 2]);
      const y = tidy(() => ops.gridSample(x, grid, interp).primal);
      expect(Array.from(await y.read())).toEqual(Array.from(data));
      for (const t of [x, grid, y]) t.dispose();
    }
  });

  it('each generator gives the exact one-sided (bilinear) or central (bicubic) derivative', async () => {
    for (const interp of ['bilinear', 'bicubic'] as const) {
      const data = image(2);
      const x = Tensor.fromData(data, [B, C, H, W]);
      const spatial = GENERATORS.filter((g): g is SpatialGenerator => g !== 'saturate');
      const t = imageTangents(x, spatial, interp);
      const all = await t.read();
      spatial.forEach((g, k) => {
        const got = all.subarray(k * data.length, (k + 1) * data.length);
        expectClose(got, expectedTangent(data, g, interp), { rtol: 1e-5, atol: 1e-6 }, `${interp} ${g}`);
      });
      x.dispose();
      t.dispose();
    }
  });

  it("saturate's tangent is the input itself", async () => {
    const data = image(3);
    const x = Tensor.fromData(data, [B, C, H, W]);
    const t = imageTangents(x, ['translate_x', 'saturate'], 'bilinear');
    expect(t.shape).toEqual([2, B, C, H, W]);
    const all = await t.read();
    expect(Array.from(all.subarray(data.length))).toEqual(Array.from(data));
    x.dispose();
    t.dispose();
  });

  it("derivatives of a linear ramp are the ramp's slope times the velocity", async () => {
    const alpha = 0.75;
    const beta = -1.25;
    const ramp = new Float32Array(H * W);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) ramp[i * W + j] = alpha * j + beta * i + 0.5;
    const x = Tensor.fromData(ramp, [1, 1, H, W]);
    const gens: SpatialGenerator[] = ['translate_x', 'rotate', 'scale', 'shear_y'];
    for (const interp of ['bilinear', 'bicubic'] as const) {
      const t = imageTangents(x, gens, interp);
      const all = await t.read();
      gens.forEach((g, k) => {
        const [a, b, c, d, e, f] = GENERATOR_MATRIX[g];
        for (let i = 1; i < H - 1; i++) {
          for (let j = 1; j < W - 1; j++) {
            const vx = ((a * (-1 + (2 * j) / (W - 1)) + b * (-1 + (2 * i) / (H - 1)) + c) * (W - 1)) / 2;
            const vy = ((d * (-1 + (2 * j) / (W - 1)) + e * (-1 + (2 * i) / (H - 1)) + f) * (H - 1)) / 2;
            expect(all[k * H * W + i * W + j]).toBeCloseTo(alpha * vx + beta * vy, 4);
          }
        }
      });
      t.dispose();
    }
    x.dispose();
  });

  it('ten tangents at once equal ten single-generator passes', async () => {
    const data = image(4);
    const x = Tensor.fromData(data, [B, C, H, W]);
    const all = imageTangents(x, GENERATORS, 'bilinear');
    const many = await all.read();
    for (const [k, g] of GENERATORS.entries()) {
      const one = imageTangents(x, [g], 'bilinear');
      expect(Array.from(await one.read())).toEqual(Array.from(many.subarray(k * data.length, (k + 1) * data.length)));
      one.dispose();
    }
    all.dispose();
    x.dispose();
  });

  it('parses transform lists and rejects unknown names', () => {
    expect(parseGenerators('all')).toEqual([...GENERATORS]);
    expect(parseGenerators('rotate, translate_x')).toEqual(['rotate', 'translate_x']);
    expect(() => parseGenerators('rotate,twist')).toThrow(/unknown transform 'twist'/);
  });

  it('dual inputs keep working through the resampling (image tangents flow too)', async () => {
    const data = image(5);
    const x = Tensor.fromData(data, [B, C, H, W]);
    const tx = Tensor.fromData(image(6), [1, B, C, H, W]);
    const grid = Tensor.fromData(identityGrid(H, W), [1, H, W, 2]);
    const y = tidy(() => ops.gridSample(dual(x, tx), grid, 'bicubic'));
    // identity resampling passes the image tangent through unchanged
    expect(Array.from(await y.tangents!.read())).toEqual(Array.from(await tx.read()));
    for (const t of [x, tx, grid, y.primal, y.tangents!]) t.dispose();
  });
});

describe('tangent basis (L_G is linear in G)', () => {
  /** sum_k c_k G_{basis k}, the 2x3 matrix a combination stands for */
  const combine = (basis: Generator[], terms: [number, number][]) =>
    terms.reduce((acc, [k, c]) => acc.map((v, i) => v + c * GENERATOR_MATRIX[basis[k] as SpatialGenerator][i]!), [0, 0, 0, 0, 0, 0]);

  it('all ten generators need seven tangents, and every combination is exactly its generator', () => {
    const { basis, combos } = tangentBasis(GENERATORS);
    expect(basis).toEqual(['translate_x', 'translate_y', 'shear_x', 'shear_y', 'stretch_x', 'stretch_y', 'saturate']);
    for (const g of GENERATORS) {
      const terms = combos.get(g)!;
      if (basis.includes(g)) expect(terms).toEqual([[basis.indexOf(g), 1]]);
      if (g === 'saturate') continue;
      expect(terms.every(([k]) => basis[k] !== 'saturate')).toBe(true);
      expect(combine(basis, terms)).toEqual([...GENERATOR_MATRIX[g]]);
    }
    // the relations of the issue: rotate = shear_x - shear_y and so on, whatever the basis
    const other = tangentBasis(['rotate', 'shear_x', 'scale', 'shear_y', 'stretch_x', 'hyperbolic_rotate', 'stretch_y']);
    expect(other.basis).toEqual(['shear_x', 'shear_y', 'stretch_x', 'stretch_y']);
    expect(other.combos.get('rotate')).toEqual([[0, 1], [1, -1]]);
    expect(other.combos.get('scale')).toEqual([[2, -1], [3, -1]]);
    expect(other.combos.get('hyperbolic_rotate')).toEqual([[0, 1], [1, 1]]);
  });

  it('independent generators are computed directly', () => {
    for (const gens of [['rotate'], ['scale', 'saturate'], ['translate_x', 'shear_y', 'rotate']] as Generator[][]) {
      const { basis, combos } = tangentBasis(gens);
      expect([...basis].sort()).toEqual([...gens].sort());
      for (const g of gens) expect(combos.get(g)).toEqual([[basis.indexOf(g), 1]]);
    }
  });
});
