/** Paul Tol's qualitative colours: distinct for colour-blind readers, in print. */
export const PALETTE = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#bbbbbb', '#000000', '#ee8866', '#44bb99', '#99ddff', '#ffaabb'];

/** Text as SVG character data or an attribute value. */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An axis value as a person reads it: 0, 3 decimals down to 0.01, else exponent form. */
export const fmt = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(2));

/** A tick's label: the shortest form of a round number (0.05, 2, 40, 1e-4). */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) return v.toExponential().replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(6)));
}

/** About `count` round linear ticks (1, 2 or 5 times a power of ten apart) covering
 * [lo, hi]; the domain is widened to the outer ticks. */
export function linearTicks(lo: number, hi: number, count = 5): { ticks: number[]; lo: number; hi: number } {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const p10 = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p10).find((s) => s >= raw * (1 - 1e-9))!;
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; first + k * step <= last + step * 1e-9; k++) ticks.push(Number((first + k * step).toPrecision(12)));
  return { ticks, lo: first, hi: last };
}

/** Log-axis ticks at powers of ten covering [lo, hi] (both > 0), the domain widened to
 * them; when fewer than two powers fall inside, 1-2-5 steps are added. */
export function logTicks(lo: number, hi: number): { ticks: number[]; lo: number; hi: number } {
  const a = Math.floor(Math.log10(lo) + 1e-12);
  let b = Math.ceil(Math.log10(hi) - 1e-12);
  if (b <= a) b = a + 1;
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) ticks.push(Number((10 ** e).toPrecision(12)));
  if (b - a < 2) {
    const more: number[] = [];
    for (let e = a; e < b; e++) for (const m of [2, 5]) more.push(Number((m * 10 ** e).toPrecision(12)));
    ticks.push(...more);
    ticks.sort((x, y) => x - y);
  }
  return { ticks, lo: 10 ** a, hi: 10 ** b };
}
