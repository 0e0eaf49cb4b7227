import type { PrimitiveTable } from '../primitives.js';

export interface LayoutParams {}

export const layoutPrims: PrimitiveTable<LayoutParams> = {};
