import type { PrimitiveTable } from '../primitives.js';

export interface MatmulParams {}

export const matmulPrims: PrimitiveTable<MatmulParams> = {};
