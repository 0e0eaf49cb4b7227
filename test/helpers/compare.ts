import { expect } from 'vitest';

export interface Tolerance {
  /** relative to each reference value */
  rtol: number;
  /** relative to the largest reference magnitude (guards values near zero) */
  atol: number;
}

export const FORWARD: Tolerance = { rtol: 1e-5, atol: 1e-6 };
export const JVP_VS_FD: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** Worst violation ratio |g - r| / (rtol |r| + atol max|r|); <= 1 passes. */
export function violation(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): { ratio: number; at: number } {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  scale = Math.max(scale, 1e-30);
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const r = want[i]!;
    const bound = tol.rtol * Math.abs(r) + tol.atol * scale;
    const v = Number.isNaN(g) !== Number.isNaN(r) ? Infinity : Number.isNaN(r) || g === r ? 0 : Math.abs(g - r) / bound;
    if (v > ratio || (Number.isNaN(v) && ratio !== Infinity)) {
      ratio = Number.isNaN(v) ? Infinity : v;
      at = i;
    }
  }
  return { ratio, at };
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, label: string): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  const { ratio, at } = violation(got, want, tol);
  if (ratio > 1) {
    expect.fail(`${label}: got ${got[at]} want ${want[at]} at ${at} (${ratio.toFixed(2)}x the tolerance rtol=${tol.rtol} atol=${tol.atol})`);
  }
}

/** ||g - r|| / ||r|| */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

/** max |g - r| against the bound rel max|r| + abs (SPEC 7's model check is rel = 1e-4,
 * abs = 1e-5): every element at once, so one wrong class cannot hide in an L2 norm.
 * `ratio` <= 1 passes; NaN on either side alone fails. */
export function maxAbsError(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs: number): { diff: number; bound: number; ratio: number; at: number } {
  let scale = 0;
  let diff = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= diff)) {
      diff = Number.isNaN(d) ? Infinity : d;
      at = i;
      if (diff === Infinity) break;
    }
  }
  const bound = rel * scale + abs;
  return { diff, bound, ratio: diff / bound, at };
}
