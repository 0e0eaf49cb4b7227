import type { PrimitiveTable } from '../primitives.js';

export interface ReduceParams {}

export const reducePrims: PrimitiveTable<ReduceParams> = {};
