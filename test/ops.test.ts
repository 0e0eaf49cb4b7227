import { beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { runOpTable } from './helpers/optest.js';
import { elementwiseCases } from './cases/elementwise.js';

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

runOpTable([...elementwiseCases]);
