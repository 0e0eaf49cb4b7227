import { primalOf, tangentsOf, type Dual, type Operand } from './dual.js';
import type { PrimitiveDef } from './primitives.js';
import { primitives, type Primitive, type PrimitiveParams } from './ops/table.js';

/** Apply a primitive to operands: its kernel alone when no operand carries tangents,
 * else its JVP rule. */
export function bind<P extends Primitive>(prim: P, params: PrimitiveParams[P], operands: readonly (Operand | null)[]): Dual {
  const def = primitives()[prim] as PrimitiveDef<PrimitiveParams[P]>;
  const primals = operands.map((o) => (o === null ? null : primalOf(o)));
  const tangents = operands.map((o) => tangentsOf(o));
  if (tangents.every((t) => t === null)) return { primal: def.impl(params, primals), tangents: null };
  return def.jvp(params, primals, tangents);
}
