import { it, expect, afterAll } from 'vitest';
// Deliberately not engine/index: an op module alone must find its rule table.
import { init, shutdown } from '../engine/runtime.js';
import { Tensor } from '../engine/tensor.js';
import { dual } from '../engine/dual.js';
import { relu } from '../engine/ops/elementwise.js';

afterAll(async () => {
  await shutdown();
});

it('an op imported on its own binds through the rule table (no install step)', async () => {
  await init();
  const x = Tensor.fromData([-1, 0.5, 2], [3]);
  const t = Tensor.fromData([3, 4, 5], [1, 3]);
  const y = relu(dual(x, t));
  expect(Array.from(await y.primal.read())).toEqual([0, 0.5, 2]);
  expect(Array.from(await y.tangents!.read())).toEqual([0, 4, 5]);
  for (const v of [x, t, y.primal, y.tangents!]) v.dispose();
});
