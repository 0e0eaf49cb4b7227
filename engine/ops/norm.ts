import type { PrimitiveTable } from '../primitives.js';

export interface NormParams {}

export const normPrims: PrimitiveTable<NormParams> = {};
