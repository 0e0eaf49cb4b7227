import { Tensor, type Shape } from './tensor.js';

/** A value with K tangent directions stacked on a leading axis: `tangents.shape` is
 * `[K, ...primal.shape]`. `tangents === null` is the symbolic zero (weights, constants);
 * a stack shorter than another operand's is zero in the trailing directions it lacks. */
export interface Dual {
  readonly primal: Tensor;
  readonly tangents: Tensor | null;
}

export type Operand = Tensor | Dual;

export function dual(primal: Tensor, tangents: Tensor | null = null): Dual {
  if (tangents) {
    const ok = tangents.rank === primal.rank + 1 && primal.shape.every((d, i) => d === tangents.shape[i + 1]);
    if (!ok) {
      throw new Error(`tangents [${tangents.shape.join(', ')}] do not match primal [${primal.shape.join(', ')}] with a leading K axis`);
    }
  }
  return { primal, tangents };
}

export function isDual(x: unknown): x is Dual {
  return typeof x === 'object' && x !== null && !(x instanceof Tensor) && 'primal' in x;
}

export function primalOf(x: Operand): Tensor {
  return x instanceof Tensor ? x : x.primal;
}

export function tangentsOf(x: Operand | null): Tensor | null {
  return x === null || x instanceof Tensor ? null : x.tangents;
}

/** The K of an op's tangents: the most any operand carries, 0 if all are zero. An operand
 * carrying k < K tangents is zero in the directions k..K-1 (as a null stack is in all of
 * them), so a direction added late, as layerwise attribution adds one per layer, costs
 * nothing before it starts; `bind` pads such stacks before a JVP rule sees them. */
export function tangentCount(ts: readonly (Tensor | null)[]): number {
  let k = 0;
  for (const t of ts) if (t) k = Math.max(k, t.shape[0]!);
  return k;
}

/** `[K, ...shape]` */
export function tangentShape(k: number, shape: Shape): number[] {
  return [k, ...shape];
}

/** Evaluate `fn` on duals built from `primals` and their `tangents` ([K, ...shape] each,
 * null for none): its outputs carry the Jacobian-vector products in every direction. */
export function jvp<T>(fn: (...xs: Dual[]) => T, primals: readonly Tensor[], tangents: readonly (Tensor | null)[]): T {
  if (primals.length !== tangents.length) throw new Error('jvp: one tangent (or null) per primal');
  return fn(...primals.map((p, i) => dual(p, tangents[i] ?? null)));
}
