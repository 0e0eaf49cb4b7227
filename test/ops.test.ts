import { beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { runOpTable } from './helpers/optest.js';
import { addReluCases, elementwiseCases, reluAtZero } from './cases/elementwise.js';
import { compactMatmulCases, directMatmulCases, matmulCases, subgroupMatmulCases } from './cases/matmul.js';
import { compactConvCases, convCases, kblockConvCases, convReluCases, resnetShapeCases, subgroupConvCases } from './cases/conv.js';
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
  ...subgroupConvCases,
  ...convReluCases,
  ...compactMatmulCases,
  ...compactConvCases,
  ...addReluCases,
  ...kblockConvCases,
]);
