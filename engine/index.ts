export { LeeError } from './errors.js';
export { describeAdapter, type AdapterSummary } from './device.js';
export { init, getDevice, runtime, shutdown, type Runtime } from './runtime.js';
export { Tensor, tidy, keep, dispose, numel, type Shape } from './tensor.js';
export { dual, jvp, isDual, primalOf, tangentsOf, type Dual, type Operand } from './dual.js';
export type { Primitive, PrimitiveParams } from './ops/table.js';
export { bind } from './bind.js';
export * as ops from './ops/index.js';
