import type { Dual } from './dual.js';
import { Tensor } from './tensor.js';

/** One primitive: its forward kernel dispatch and its JVP rule. */
export interface PrimitiveDef<P> {
  /** Forward on primal tensors; `null` marks an absent optional operand (a bias). */
  impl: (params: P, inputs: readonly (Tensor | null)[]) => Tensor;
  /** Value and tangents of the output from the inputs' primals and tangents
   * (`null` tangent = symbolic zero; at least one is non-null when this is called). */
  jvp: (params: P, primals: readonly (Tensor | null)[], tangents: readonly (Tensor | null)[]) => Dual;
}

/** A family's table: every primitive it declares must have a definition. */
export type PrimitiveTable<Params> = { [P in keyof Params]: PrimitiveDef<Params[P]> };

/** Tangents of weights (operands after the first) are not supported by linear rules:
 * weights are constants in this engine. */
export function requireConstant(tangents: readonly (Tensor | null)[], op: string): void {
  for (let i = 1; i < tangents.length; i++) {
    if (tangents[i]) throw new Error(`${op}: tangents are only supported for the first operand`);
  }
}

/** JVP of an op that is linear (affine with its bias) in its first operand and whose
 * leading axis is a batch axis: the tangents run as one extra batch of K*B through the
 * same op, bias-free, sharing the weight reads. `biasSlots` are the operands dropped. */
export function linearInBatch<P>(
  name: string,
  impl: PrimitiveDef<P>['impl'],
  biasSlots: readonly number[] = [],
): PrimitiveDef<P> {
  return {
    impl,
    jvp(params, primals, tangents) {
      requireConstant(tangents, name);
      const primal = impl(params, primals);
      const t = tangents[0]!;
      const k = t.shape[0]!;
      const folded = t.reshape([k * t.shape[1]!, ...t.shape.slice(2)]);
      const rest = primals.map((p, i) => (i === 0 ? folded : biasSlots.includes(i) ? null : p));
      const out = impl(params, rest);
      folded.dispose();
      const tangentsOut = out.reshape([k, ...primal.shape]);
      out.dispose();
      return { primal, tangents: tangentsOut };
    },
  };
}

/** JVP of an op linear in its first operand that works on any rank: the tangents run
 * through the same op with their leading K axis added to the parameters by `lift`. */
export function linearLifted<P>(
  name: string,
  impl: PrimitiveDef<P>['impl'],
  lift: (params: P) => P,
): PrimitiveDef<P> {
  return {
    impl,
    jvp(params, primals, tangents) {
      requireConstant(tangents, name);
      const primal = impl(params, primals);
      const out = impl(lift(params), [tangents[0]!, ...primals.slice(1)]);
      return { primal, tangents: out };
    },
  };
}
