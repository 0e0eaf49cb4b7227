import { describe, expect, it } from 'vitest';
import { COMPACT_CONV_BELOW, directConvTiling, vec4Rows } from '../engine/ops/conv.js';
import { COMPACT_GEMM_PRODUCT_BELOW, COMPACT_GEMM_ROW_BELOW, directGemmTiling } from '../engine/ops/matmul.js';

// The direct convolution's tiling is a pure function of the adapter profile and the
// shape; the op table checks every tiling it can return on a GPU-less adapter, this
// checks which one each shape gets, without a GPU.
const lavapipe = { kind: 'llvmpipe', subgroupSize: 8 } as const;
const swiftshader = { kind: 'swiftshader', subgroupSize: 4 } as const;
const noFixedSize = { kind: 'llvmpipe', subgroupSize: 0 } as const;
// per-image FLOPs of ResNet-50's convolutions at 224 px (the smallest, layer4's 1x1
// 2048 -> 512 at 7x7, is 103M) and of the demo ResNet's at 32 px (the stem: 4.8M)
const LARGE = 2 * 512 * 7 * 7 * 2048;
const convFlops = (cout: number, cin: number, k: number, out: number) => 2 * cout * out * out * cin * k * k;

describe('direct conv tiling', () => {
  it('shares weight loads over lavapipe subgroups: 64 channels for 1x1 rows, 32 otherwise, 8 outputs', () => {
    expect(directConvTiling(lavapipe, { mg: 256, taps: 1, wout: 3136, flat: true, flops: LARGE })).toEqual({ rm: 64, rn: 8, subgroups: true, kblock: 2 });
    expect(directConvTiling(lavapipe, { mg: 64, taps: 9, wout: 56, flat: false, flops: LARGE })).toEqual({ rm: 32, rn: 8, subgroups: true, kblock: 1 });
    expect(directConvTiling(lavapipe, { mg: 512, taps: 9, wout: 7, flat: false, flops: LARGE })).toEqual({ rm: 32, rn: 8, subgroups: true, kblock: 1 });
    expect(directConvTiling(lavapipe, { mg: 64, taps: 49, wout: 112, flat: false, flops: LARGE })).toEqual({ rm: 32, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 128, taps: 9, wout: 4, flat: false, flops: LARGE })).toEqual({ rm: 32, rn: 4, subgroups: true, kblock: 1 });
    // the 1x1 stride-2 downsample: accumulator-major blocks gained nothing there
    expect(directConvTiling(lavapipe, { mg: 512, taps: 1, wout: 28, flat: false, flops: LARGE })).toEqual({ rm: 32, rn: 8, subgroups: true });
    // tiles of fewer than 128 accumulators (a depthwise 3x3, few channels) keep tap order
    expect(directConvTiling(lavapipe, { mg: 1, taps: 9, wout: 56, flat: false, flops: LARGE })).toEqual({ rm: 1, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 8, taps: 1, wout: 3136, flat: true, flops: LARGE })).toEqual({ rm: 8, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 16, taps: 9, wout: 56, flat: false, flops: LARGE })).toEqual({ rm: 16, rn: 8, subgroups: true, kblock: 1 });
  });

  it('orders FMAs accumulator-major only on lavapipe, and never for compact tiles', () => {
    for (const profile of [lavapipe, swiftshader, noFixedSize]) {
      for (const [taps, flat] of [[1, true], [9, false], [1, false], [49, false]] as const) {
        const shape = { mg: 64, taps, wout: 56, flat };
        expect(directConvTiling(profile, { ...shape, flops: COMPACT_CONV_BELOW - 1 }).kblock).toBeUndefined();
        if (profile !== lavapipe) expect(directConvTiling(profile, { ...shape, flops: LARGE }).kblock).toBeUndefined();
      }
    }
  });

  it('keeps SwiftShader at 16 x 16 (8 channels past 3x3 filters, shorter rows on small maps)', () => {
    expect(directConvTiling(swiftshader, { mg: 64, taps: 9, wout: 56, flat: false, flops: LARGE })).toEqual({ rm: 16, rn: 16, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 64, taps: 49, wout: 112, flat: false, flops: LARGE })).toEqual({ rm: 8, rn: 16, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 512, taps: 9, wout: 7, flat: false, flops: LARGE })).toEqual({ rm: 16, rn: 8, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 512, taps: 1, wout: 3, flat: true, flops: LARGE })).toEqual({ rm: 16, rn: 4, subgroups: true });
  });

  it('takes the power of two at or below the channel count, and no sharing without a fixed subgroup size', () => {
    for (const mg of [1, 2, 3, 5, 7, 12, 24, 40, 63]) {
      const t = directConvTiling(lavapipe, { mg, taps: 9, wout: 20, flat: false, flops: LARGE });
      expect(t.rm).toBeLessThanOrEqual(mg);
      expect(2 * t.rm).toBeGreaterThan(Math.min(mg, 32));
      expect(Number.isInteger(Math.log2(t.rm))).toBe(true);
    }
    expect(directConvTiling(noFixedSize, { mg: 64, taps: 9, wout: 56, flat: false, flops: LARGE }).subgroups).toBe(false);
  });

  it('gives small convolutions a compact tile, which compiles in a fraction of the time', () => {
    expect(convFlops(64, 3, 7, 16)).toBeLessThan(COMPACT_CONV_BELOW);
    expect(convFlops(512, 2048, 1, 7)).toBeGreaterThanOrEqual(COMPACT_CONV_BELOW);
    // the demo ResNet's stem, a 3x3 at 8x8 and one at 2x2, as each driver tiles them
    const stem = { mg: 64, taps: 49, wout: 16, flat: false, flops: convFlops(64, 3, 7, 16) };
    const mid = { mg: 32, taps: 9, wout: 8, flat: false, flops: convFlops(32, 32, 3, 8) };
    const late = { mg: 128, taps: 9, wout: 2, flat: false, flops: convFlops(128, 128, 3, 2) };
    expect(directConvTiling(lavapipe, stem)).toEqual({ rm: 8, rn: 4, subgroups: true });
    expect(directConvTiling(lavapipe, mid)).toEqual({ rm: 8, rn: 4, subgroups: true });
    expect(directConvTiling(swiftshader, stem)).toEqual({ rm: 8, rn: 8, subgroups: true });
    expect(directConvTiling(swiftshader, mid)).toEqual({ rm: 8, rn: 8, subgroups: true });
    expect(directConvTiling(swiftshader, late)).toEqual({ rm: 16, rn: 4, subgroups: true });
    // at most 64 accumulators a thread, and never more than the large tile
    for (const profile of [lavapipe, swiftshader, noFixedSize]) {
      for (const mg of [1, 3, 8, 16, 64, 512]) {
        for (const wout of [1, 4, 5, 16, 56]) {
          for (const taps of [1, 9, 49]) {
            const shape = { mg, taps, wout, flat: false };
            const small = directConvTiling(profile, { ...shape, flops: COMPACT_CONV_BELOW - 1 });
            const large = directConvTiling(profile, { ...shape, flops: COMPACT_CONV_BELOW });
            expect(small.rm * small.rn).toBeLessThanOrEqual(64);
            expect(small.rm * small.rn).toBeLessThanOrEqual(large.rm * large.rn);
            expect(small.rm).toBeLessThanOrEqual(Math.max(1, mg));
          }
        }
      }
    }
  });

  it("reads and writes ResNet-50's rows of whole vec4s as vec4s, with the padding's offset", () => {
    // flat 1x1 rows: the whole map is the row, in and out
    expect(vec4Rows({ flat: true, w: 56 * 56, wout: 56 * 56, padW: 0 })).toEqual({ vec4: true });
    expect(vec4Rows({ flat: true, w: 7 * 7, wout: 7 * 7, padW: 0 })).toEqual({});
    // 3x3 pad 1: input rows one column off the vec4 grid
    expect(vec4Rows({ flat: false, w: 56, wout: 56, padW: 1 })).toEqual({ vec4: true, x4: 1 });
    expect(vec4Rows({ flat: false, w: 14, wout: 14, padW: 1 })).toEqual({});
    // stride 2: 56 -> 28 both, 28 -> 14 the input only
    expect(vec4Rows({ flat: false, w: 56, wout: 28, padW: 1 })).toEqual({ vec4: true, x4: 1 });
    expect(vec4Rows({ flat: false, w: 28, wout: 14, padW: 1 })).toEqual({ x4: 1 });
    // the stem (7x7 stride 2 pad 3) and a 1x1 downsample
    expect(vec4Rows({ flat: false, w: 224, wout: 112, padW: 3 })).toEqual({ vec4: true, x4: 3 });
    expect(vec4Rows({ flat: false, w: 56, wout: 28, padW: 0 })).toEqual({ vec4: true, x4: 0 });
  });
});

describe('direct GEMM tiling', () => {
  const cpu = (p: typeof lavapipe | typeof swiftshader) => ({ ...p, software: true });
  // a Linear (B shared by the batch: no batch dims) and batched per-head products
  const linear = (m: number, n: number, k: number) => ({ m, n, k, dims: [] });
  const heads = (count: number, m: number, n: number, k: number) => ({ m, n, k, dims: [count] });

  it('runs the shared-memory kernel on GPUs', () => {
    expect(directGemmTiling({ kind: 'gpu', software: false, subgroupSize: 32 }, linear(197, 768, 768), true)).toBeUndefined();
  });

  it("keeps ViT-B's and Mixer-B's products at 16 columns (8 x 16 shared over lavapipe's subgroups)", () => {
    expect(directGemmTiling(cpu(lavapipe), linear(197, 2304, 768), true)).toEqual({ rm: 8, rn: 16, subgroups: true, accMajor: true });
    expect(directGemmTiling(cpu(swiftshader), linear(197, 2304, 768), true)).toEqual({ rm: 16, rn: 16 });
    // Mixer-B's token mixing: 196 tokens -> 384
    expect(directGemmTiling(cpu(swiftshader), linear(768, 384, 196), true)).toEqual({ rm: 16, rn: 16 });
    // ViT-B's attention: 12 heads x 197 tokens x 64 (q k^T asks for sharing, which a B
    // that differs per head does not get: the plain kernel runs at 8 x 16)
    expect(directGemmTiling(cpu(lavapipe), heads(12, 197, 197, 64), true)).toEqual({ rm: 8, rn: 16, subgroups: true });
    expect(directGemmTiling(cpu(lavapipe), heads(12, 197, 64, 197), false)).toEqual({ rm: 16, rn: 16 });
  });

  it("orders a large Linear's FMAs accumulator-major on lavapipe only", () => {
    // Mixer-B's token mixing at the tangent batch: 7 x 768 rows of 196 tokens -> 384
    expect(directGemmTiling(cpu(lavapipe), linear(7 * 768, 384, 196), true)).toEqual({ rm: 8, rn: 16, subgroups: true, accMajor: true });
    expect(directGemmTiling(cpu(swiftshader), linear(7 * 768, 384, 196), true)).toEqual({ rm: 16, rn: 16 });
    // no vec4 steps along K (K % 4 != 0), B not transposed, or B per head: tap order
    expect(directGemmTiling(cpu(lavapipe), linear(197, 1000, 750), true)).toEqual({ rm: 16, rn: 16 });
    expect(directGemmTiling(cpu(lavapipe), linear(1024, 1024, 1024), false)).toEqual({ rm: 16, rn: 16 });
    expect(directGemmTiling(cpu(lavapipe), heads(12, 197, 197, 64), true)).not.toHaveProperty('accMajor');
  });

  it("gives a 32 px ViT's Linear layers and heads 8 x 8", () => {
    // the demo ViT: 17 tokens of 48, 3 heads of 16, an MLP of 192, 400 images a pass
    expect(directGemmTiling(cpu(lavapipe), linear(400 * 17, 192, 48), true)).toEqual({ rm: 8, rn: 8, subgroups: true });
    expect(directGemmTiling(cpu(swiftshader), linear(400 * 17, 48, 192), true)).toEqual({ rm: 8, rn: 8 });
    expect(directGemmTiling(cpu(swiftshader), heads(1200, 17, 17, 16), true)).toEqual({ rm: 8, rn: 8 });
    expect(directGemmTiling(cpu(lavapipe), heads(1200, 17, 16, 17), false)).toEqual({ rm: 8, rn: 8 });
    expect(2 * 192 * 48).toBeLessThan(COMPACT_GEMM_ROW_BELOW);
    expect(2 * 17 * 17 * 16).toBeLessThan(COMPACT_GEMM_PRODUCT_BELOW);
  });

  it('takes the next power of two for fewer rows than a block', () => {
    expect(directGemmTiling(cpu(swiftshader), linear(3, 8, 8), true)).toEqual({ rm: 4, rn: 8 });
    expect(directGemmTiling(cpu(swiftshader), linear(5, 1024, 1024), false)).toEqual({ rm: 8, rn: 16 });
  });
});
