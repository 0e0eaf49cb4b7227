import type { PrimitiveTable } from '../primitives.js';

export interface ConvParams {}

export const convPrims: PrimitiveTable<ConvParams> = {};
