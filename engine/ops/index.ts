import { installPrimitives } from '../bind.js';
import type { PrimitiveTable } from '../primitives.js';
import { elementwise, type ElementwiseParams } from './elementwise.js';

/** Every primitive's parameters; the table below must define each one (forward kernel
 * and JVP rule), or this file does not compile. */
export type PrimitiveParams = ElementwiseParams;
export type Primitive = keyof PrimitiveParams;

export const primitives: PrimitiveTable<PrimitiveParams> = {
  ...elementwise,
};

installPrimitives(primitives);
