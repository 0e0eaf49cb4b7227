import { describe, expect, it } from 'vitest';
import { directConvTiling } from '../engine/ops/conv.js';

// The direct convolution's tiling is a pure function of the adapter profile and the
// shape; the op table checks every tiling it can return on a GPU-less adapter, this
// checks which one each shape gets, without a GPU.
const lavapipe = { kind: 'llvmpipe', subgroupSize: 8 } as const;
const swiftshader = { kind: 'swiftshader', subgroupSize: 4 } as const;
const noFixedSize = { kind: 'llvmpipe', subgroupSize: 0 } as const;

describe('direct conv tiling', () => {
  it('shares weight loads over lavapipe subgroups: 64 channels for 1x1 rows, 32 otherwise, 8 outputs', () => {
    expect(directConvTiling(lavapipe, { mg: 256, taps: 1, wout: 3136, flat: true })).toEqual({ rm: 64, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 64, taps: 9, wout: 56, flat: false })).toEqual({ rm: 32, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 512, taps: 9, wout: 7, flat: false })).toEqual({ rm: 32, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 64, taps: 49, wout: 112, flat: false })).toEqual({ rm: 32, rn: 8, subgroups: true });
    expect(directConvTiling(lavapipe, { mg: 128, taps: 9, wout: 4, flat: false })).toEqual({ rm: 32, rn: 4, subgroups: true });
  });

  it('keeps SwiftShader at 16 x 16 (8 channels past 3x3 filters, shorter rows on small maps)', () => {
    expect(directConvTiling(swiftshader, { mg: 64, taps: 9, wout: 56, flat: false })).toEqual({ rm: 16, rn: 16, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 64, taps: 49, wout: 112, flat: false })).toEqual({ rm: 8, rn: 16, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 512, taps: 9, wout: 7, flat: false })).toEqual({ rm: 16, rn: 8, subgroups: true });
    expect(directConvTiling(swiftshader, { mg: 512, taps: 1, wout: 3, flat: true })).toEqual({ rm: 16, rn: 4, subgroups: true });
  });

  it('takes the power of two at or below the channel count, and no sharing without a fixed subgroup size', () => {
    for (const mg of [1, 2, 3, 5, 7, 12, 24, 40, 63]) {
      const t = directConvTiling(lavapipe, { mg, taps: 9, wout: 20, flat: false });
      expect(t.rm).toBeLessThanOrEqual(mg);
      expect(2 * t.rm).toBeGreaterThan(Math.min(mg, 32));
      expect(Number.isInteger(Math.log2(t.rm))).toBe(true);
    }
    expect(directConvTiling(noFixedSize, { mg: 64, taps: 9, wout: 56, flat: false }).subgroups).toBe(false);
  });
});
