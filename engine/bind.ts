import { primalOf, tangentsOf, type Dual, type Operand } from './dual.js';
import type { PrimitiveDef } from './primitives.js';
import type { Primitive, PrimitiveParams } from './ops/index.js';

let table: { [P in Primitive]: PrimitiveDef<PrimitiveParams[P]> } | null = null;

export function installPrimitives(t: { [P in Primitive]: PrimitiveDef<PrimitiveParams[P]> }): void {
  table = t;
}

/** Apply a primitive to operands: its kernel alone when no operand carries tangents,
 * else its JVP rule. */
export function bind<P extends Primitive>(prim: P, params: PrimitiveParams[P], operands: readonly (Operand | null)[]): Dual {
  if (!table) throw new Error('lee-gpu: primitives not installed (import from the package entry point)');
  const def = table[prim] as PrimitiveDef<PrimitiveParams[P]>;
  const primals = operands.map((o) => (o === null ? null : primalOf(o)));
  const tangents = operands.map((o) => tangentsOf(o));
  if (tangents.every((t) => t === null)) return { primal: def.impl(params, primals), tangents: null };
  return def.jvp(params, primals, tangents);
}
