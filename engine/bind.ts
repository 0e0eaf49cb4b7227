import { primalOf, tangentCount, tangentsOf, type Dual, type Operand } from './dual.js';
import type { Tensor } from './tensor.js';
import type { PrimitiveDef } from './primitives.js';
import { primitives, type Primitive, type PrimitiveParams } from './ops/table.js';
import { concatOrZeros } from './ops/layout.js';

/** Apply a primitive to operands: its kernel alone when no operand carries tangents,
 * else its JVP rule. */
export function bind<P extends Primitive>(prim: P, params: PrimitiveParams[P], operands: readonly (Operand | null)[]): Dual {
  const def = primitives()[prim] as PrimitiveDef<PrimitiveParams[P]>;
  const primals = operands.map((o) => (o === null ? null : primalOf(o)));
  const tangents = operands.map((o) => tangentsOf(o));
  if (tangents.every((t) => t === null)) return { primal: def.impl(params, primals), tangents: null };
  const k = tangentCount(tangents);
  const padded: Tensor[] = [];
  const aligned = tangents.map((t) => {
    if (!t || t.shape[0] === k) return t;
    const p = padTangents(t, k);
    padded.push(p);
    return p;
  });
  try {
    return def.jvp(params, primals, aligned);
  } finally {
    // a rule that returns a view of a padded stack holds its own reference
    for (const p of padded) p.dispose();
  }
}

/** `t` [k, ...shape] as [K, ...shape], zero in the directions k..K-1 it does not carry. */
function padTangents(t: Tensor, k: number): Tensor {
  const shape = t.shape.slice(1);
  return concatOrZeros([t, null], [t.shape, [k - t.shape[0]!, ...shape]], 0);
}
