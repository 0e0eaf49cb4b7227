import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, ops, shutdown, Tensor } from '../engine/index.js';
import { runOpTable } from './helpers/optest.js';
import { addReluCases, elementwiseCases, reluAtZero } from './cases/elementwise.js';
import { accMajorMatmulCases, compactMatmulCases, directMatmulCases, matmulCases, subgroupMatmulCases } from './cases/matmul.js';
import { compactConvCases, convCases, kblockConvCases, residualConvCases, convReluCases, resnetShapeCases, rowVec4ConvCases, subgroupConvCases, vec4ConvCases } from './cases/conv.js';
import { maxPoolAtTies, poolingCases } from './cases/pooling.js';
import { confidentSoftmax, maxAtTies, reduceCases } from './cases/reduce.js';
import { normCases } from './cases/norm.js';
import { layoutCases } from './cases/layout.js';
import { attentionCases, composedAttentionCases } from './cases/attention.js';
import { bilinearAtCentres, sampleCases } from './cases/sample.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

/** The op table: every op's forward against its float64 reference, its JVP against
 * central differences, K tangents at once against single runs; at kinks, the derivative
 * conventions. A row's random inputs are seeded by its position, so new rows go last. */
runOpTable([
  ...elementwiseCases,
  ...matmulCases,
  ...convCases,
  ...poolingCases,
  ...reduceCases,
  ...normCases,
  ...layoutCases,
  ...attentionCases,
  ...sampleCases,
  reluAtZero,
  maxAtTies,
  maxPoolAtTies,
  bilinearAtCentres,
  ...confidentSoftmax,
  ...resnetShapeCases,
  ...composedAttentionCases,
  ...directMatmulCases,
  ...subgroupMatmulCases,
  ...accMajorMatmulCases,
  ...subgroupConvCases,
  ...convReluCases,
  ...compactMatmulCases,
  ...compactConvCases,
  ...addReluCases,
  ...kblockConvCases,
  ...residualConvCases,
  ...vec4ConvCases,
  ...rowVec4ConvCases,
]);

describe('conv2d arguments', () => {
  it('rejects a residual of any shape but the output\'s, and a kblock that is not a positive integer', () => {
    const zeros = (shape: number[]) => Tensor.fromData(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const x = zeros([1, 4, 6, 6]);
    const w = zeros([8, 4, 3, 3]);
    const r = zeros([1, 8, 6, 6]);
    expect(() => ops.conv2d(x, w, null, { residual: r })).toThrow('conv2d: residual must be the output\'s shape [1, 8, 4, 4], got [1, 8, 6, 6]');
    expect(() => ops.conv2d(x, w, null, { algorithm: 'direct', direct: { rm: 8, rn: 4, kblock: 0 } })).toThrow('conv2d: kblock must be a positive integer, got 0');
    for (const t of [x, w, r]) t.dispose();
  });
});
