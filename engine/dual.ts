import { Tensor, type Shape } from './tensor.js';

/** A value with K tangent directions stacked on a leading axis: `tangents.shape` is
 * `[K, ...primal.shape]`. `tangents === null` is the symbolic zero (weights, constants). */
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

/** The common K of the non-zero tangents (throws when they disagree); 0 if all are zero. */
export function tangentCount(ts: readonly (Tensor | null)[]): number {
  let k = -1;
  for (const t of ts) {
    if (!t) continue;
    const kt = t.shape[0]!;
    if (k >= 0 && kt !== k) throw new Error(`operands carry different numbers of tangents (${k} and ${kt})`);
    k = kt;
  }
  return Math.max(k, 0);
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
