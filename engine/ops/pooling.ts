import type { PrimitiveTable } from '../primitives.js';

export interface PoolingParams {}

export const poolingPrims: PrimitiveTable<PoolingParams> = {};
