import { Tensor } from '../engine/tensor.js';
import { LeeError } from '../engine/errors.js';

/** The ten one-parameter groups of SPEC 5.1, in the paper's column order. */
export const GENERATORS = [
  'translate_x',
  'translate_y',
  'rotate',
  'shear_x',
  'shear_y',
  'stretch_x',
  'stretch_y',
  'saturate',
  'scale',
  'hyperbolic_rotate',
] as const;

export type Generator = (typeof GENERATORS)[number];
export type SpatialGenerator = Exclude<Generator, 'saturate'>;

/** The seed's CSV column per generator (SPEC 5.1); ours for the two it lacks. */
export const COLUMN: Record<Generator, string> = {
  translate_x: 'trans_x_deriv',
  translate_y: 'trans_y_deriv',
  rotate: 'rot_deriv',
  shear_x: 'shear_x_deriv',
  shear_y: 'shear_y_deriv',
  stretch_x: 'stretch_x_deriv',
  stretch_y: 'stretch_y_deriv',
  saturate: 'saturate_err',
  scale: 'scale_deriv',
  hyperbolic_rotate: 'hyperbolic_rotate_deriv',
};

/** G = dA/dt(0) as rows [a b c; d e f] acting on p = (x_n, y_n, 1). Stretch is
 * diag(1 + t, 1), not the paper's degenerate matrix (SPEC 5.6). */
export const GENERATOR_MATRIX: Record<SpatialGenerator, readonly [number, number, number, number, number, number]> = {
  translate_x: [0, 0, 1, 0, 0, 0],
  translate_y: [0, 0, 0, 0, 0, 1],
  rotate: [0, 1, 0, -1, 0, 0],
  shear_x: [0, 1, 0, 0, 0, 0],
  shear_y: [0, 0, 0, 1, 0, 0],
  stretch_x: [1, 0, 0, 0, 0, 0],
  stretch_y: [0, 0, 0, 0, 1, 0],
  scale: [-1, 0, 0, 0, -1, 0],
  hyperbolic_rotate: [0, 1, 0, 1, 0, 0],
};

export function parseGenerators(spec: string): Generator[] {
  if (spec === 'all') return [...GENERATORS];
  const names = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new LeeError('no transforms given');
  for (const n of names) {
    if (!(GENERATORS as readonly string[]).includes(n)) {
      throw new LeeError(`unknown transform '${n}'. Known: ${GENERATORS.join(', ')}`);
    }
  }
  return [...new Set(names)] as Generator[];
}

/** The sample points of A(0): every pixel centre in integer pixel units, [1, H, W, 2] as
 * (column, row). Exact by construction, so t = 0 reproduces the image bit for bit and
 * bilinear's derivative is the right-sided difference at every pixel (SPEC 5.1). */
export function identityGrid(h: number, w: number): Float32Array {
  const g = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      g[(i * w + j) * 2] = j;
      g[(i * w + j) * 2 + 1] = i;
    }
  }
  return g;
}

/** Velocity of each sample point in pixel units, [H, W, 2]:
 * v = (G p)_x (W-1)/2, (G p)_y (H-1)/2 with p in normalised align_corners coordinates. */
export function velocityField(g: SpatialGenerator, h: number, w: number): Float32Array {
  const [a, b, c, d, e, f] = GENERATOR_MATRIX[g];
  const out = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    const yn = h > 1 ? -1 + (2 * i) / (h - 1) : 0;
    for (let j = 0; j < w; j++) {
      const xn = w > 1 ? -1 + (2 * j) / (w - 1) : 0;
      out[(i * w + j) * 2] = ((a * xn + b * yn + c) * (w - 1)) / 2;
      out[(i * w + j) * 2 + 1] = ((d * xn + e * yn + f) * (h - 1)) / 2;
    }
  }
  return out;
}

/** Grid tangents [K, 1, H, W, 2] for the spatial generators, in order. */
export function velocityTensor(gens: readonly SpatialGenerator[], h: number, w: number): Tensor {
  const data = new Float32Array(gens.length * h * w * 2);
  gens.forEach((g, k) => data.set(velocityField(g, h, w), k * h * w * 2));
  return Tensor.fromData(data, [gens.length, 1, h, w, 2]);
}

/** The tangents to push through a network for `gens`, and each generator as a
 * combination of them. G x = vx dx + vy dy with (vx, vy) linear in G (for bilinear and
 * bicubic alike: both derivatives at pixel centres are linear in the velocity), and a
 * JVP is linear in its tangent, so L_G is linear in G: the nine affine generators span
 * only six directions (rotate = shear_x - shear_y, scale = -(stretch_x + stretch_y),
 * hyperbolic_rotate = shear_x + shear_y). The basis is taken from the requested
 * generators, the elementary ones (one matrix entry each) first, so a generator in it
 * is computed directly and the others are sums and differences of the elementary ones;
 * saturate is its own direction. */
const ELEMENTARY: ReadonlySet<Generator> = new Set(['translate_x', 'translate_y', 'shear_x', 'shear_y', 'stretch_x', 'stretch_y', 'saturate']);

export function tangentBasis(gens: readonly Generator[]): { basis: Generator[]; combos: Map<Generator, [number, number][]> } {
  const basis: Generator[] = [];
  // the spatial members of the basis: their index in `basis` and their matrix
  const spatial: { index: number; v: number[] }[] = [];
  const combos = new Map<Generator, [number, number][]>();
  const order = [...new Set(gens)].sort((a, b) => +!ELEMENTARY.has(a) - +!ELEMENTARY.has(b));
  for (const g of order) {
    const coeffs = g === 'saturate' ? null : solveInSpan(spatial.map((s) => s.v), [...GENERATOR_MATRIX[g]]);
    if (coeffs) {
      combos.set(g, coeffs.flatMap((c, i): [number, number][] => (c === 0 ? [] : [[spatial[i]!.index, c]])));
      continue;
    }
    combos.set(g, [[basis.length, 1]]);
    if (g !== 'saturate') spatial.push({ index: basis.length, v: [...GENERATOR_MATRIX[g]] });
    basis.push(g);
  }
  return { basis, combos };
}

/** Coefficients c with sum_i c_i v_i = target, or null if
 * target is outside their span. The generators' entries are small integers, so the
 * elimination is exact in doubles and the coefficients are exact. */
function solveInSpan(cols: readonly number[][], target: number[]): number[] | null {
  const n = cols.length;
  if (n === 0) return target.every((t) => t === 0) ? [] : null;
  // augmented 6 x (n + 1) system, Gauss-Jordan with partial pivoting
  const rows = target.map((t, r) => [...cols.map((v) => v[r]!), t]);
  const pivots: number[] = [];
  let r = 0;
  for (let c = 0; c < n && r < rows.length; c++) {
    let p = r;
    for (let i = r + 1; i < rows.length; i++) if (Math.abs(rows[i]![c]!) > Math.abs(rows[p]![c]!)) p = i;
    if (rows[p]![c] === 0) continue;
    [rows[r], rows[p]] = [rows[p]!, rows[r]!];
    const pr = rows[r]!;
    for (let i = 0; i < rows.length; i++) {
      if (i === r || rows[i]![c] === 0) continue;
      const f = rows[i]![c]! / pr[c]!;
      rows[i] = rows[i]!.map((v, j) => v - f * pr[j]!);
    }
    pivots.push(c);
    r++;
  }
  if (rows.slice(r).some((row) => Math.abs(row[n]!) > 1e-12)) return null;
  const coeffs = new Array<number>(n).fill(0);
  pivots.forEach((c, i) => (coeffs[c] = rows[i]![n]! / rows[i]![c]!));
  return coeffs;
}
