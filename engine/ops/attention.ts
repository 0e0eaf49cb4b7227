import type { PrimitiveTable } from '../primitives.js';

export interface AttentionParams {}

export const attentionPrims: PrimitiveTable<AttentionParams> = {};
