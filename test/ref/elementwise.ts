import { map, zip, type ND } from './ndarray.js';

/** erfc in float64: Taylor series below 3 (about 1e-13 absolute), continued fraction above. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Lentz's continued fraction: erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = 1 / d;
    c = x + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export const phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export const UNARY_REF: Record<string, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  gelu: (x) => x * phi(x),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x * sigmoid(x),
  sigmoid,
  tanh: Math.tanh,
  hardswish: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
};

export const BINARY_REF: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: Math.max,
  minimum: Math.min,
};

export const unaryRef = (op: string) => (x: ND): ND => map(x, UNARY_REF[op]!);
export const binaryRef = (op: string) => (a: ND, b: ND): ND => zip(a, b, BINARY_REF[op]!);

/** relu's JVP with relu'(0) = 0: the tangent passes only where x > 0 (so not at 0 or -0). */
export const reluJvpRef = (x: ND, v: ND): ND => zip(x, v, (a, t) => (a > 0 ? t : 0));
