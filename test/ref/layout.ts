import { nd, strides, unravel, type ND } from './ndarray.js';

/** Flat position of a multi-index. */
function ravel(idx: readonly number[], shape: readonly number[]): number {
  const s = strides(shape);
  let p = 0;
  for (let d = 0; d < shape.length; d++) p += idx[d]! * s[d]!;
  return p;
}

/** out[idx] = x[source(idx)], source returning null for a zero. */
function build(shape: readonly number[], source: (idx: number[]) => number | null, x: ND): ND {
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) {
    const p = source(unravel(i, shape));
    out.data[i] = p === null ? 0 : x.data[p]!;
  }
  return out;
}

export function reshapeRef(x: ND, shape: readonly number[]): ND {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return nd(
    shape.map((d) => (d === -1 ? x.data.length / known : d)),
    x.data,
  );
}

/** out[i_0..i_r] = x[j] with j[perm[d]] = i_d */
export function permuteRef(x: ND, perm: readonly number[]): ND {
  const p = perm.map((a) => (a < 0 ? a + x.shape.length : a));
  const shape = p.map((a) => x.shape[a]!);
  return build(
    shape,
    (idx) => {
      const j = new Array<number>(idx.length);
      idx.forEach((v, d) => (j[p[d]!] = v));
      return ravel(j, x.shape);
    },
    x,
  );
}

/** The positions Python's range(n)[start:stop:step] selects (None as undefined). */
export function pythonSlice(n: number, start: number | undefined, stop: number | undefined, step = 1): number[] {
  const out: number[] = [];
  if (step > 0) {
    let b = start === undefined ? 0 : start < 0 ? Math.max(0, n + start) : Math.min(start, n);
    const e = stop === undefined ? n : stop < 0 ? Math.max(0, n + stop) : Math.min(stop, n);
    for (; b < e; b += step) out.push(b);
  } else {
    let b = start === undefined ? n - 1 : start < 0 ? n + start : Math.min(start, n - 1);
    const e = stop === undefined ? -1 : stop < 0 ? Math.max(-1, n + stop) : stop;
    for (; b > e; b += step) if (b >= 0) out.push(b);
  }
  return out;
}

export function sliceRef(x: ND, starts: readonly (number | undefined)[], ends: readonly (number | undefined)[], steps?: readonly number[]): ND {
  const picks = x.shape.map((n, d) => (d < starts.length ? pythonSlice(n, starts[d], ends[d], steps?.[d] ?? 1) : [...Array(n).keys()]));
  return build(
    picks.map((p) => p.length),
    (idx) => ravel(idx.map((v, d) => picks[d]![v]!), x.shape),
    x,
  );
}

export type PadModeRef = 'zero' | 'reflect' | 'replicate' | 'circular';

/** Input coordinate read for coordinate c of an axis of size n, or null for a zero. */
function padSource(c: number, n: number, mode: PadModeRef): number | null {
  if (c >= 0 && c < n) return c;
  switch (mode) {
    case 'zero':
      return null;
    case 'replicate':
      return c < 0 ? 0 : n - 1;
    case 'circular':
      return ((c % n) + n) % n;
    case 'reflect': {
      // mirror about the first and last element, repeatedly (period 2(n-1))
      let r = c;
      while (r < 0 || r >= n) r = r < 0 ? -r : 2 * (n - 1) - r;
      return r;
    }
  }
}

/** F.pad: pads = [last-axis left, right, second-last left, right, ...] */
export function padRef(x: ND, pads: readonly number[], mode: PadModeRef = 'zero'): ND {
  const r = x.shape.length;
  const before = x.shape.map((_, d) => pads[2 * (r - 1 - d)] ?? 0);
  const after = x.shape.map((_, d) => pads[2 * (r - 1 - d) + 1] ?? 0);
  const shape = x.shape.map((n, d) => n + before[d]! + after[d]!);
  return build(
    shape,
    (idx) => {
      const j: number[] = [];
      for (let d = 0; d < r; d++) {
        const c = padSource(idx[d]! - before[d]!, x.shape[d]!, mode);
        if (c === null) return null;
        j.push(c);
      }
      return ravel(j, x.shape);
    },
    x,
  );
}

export function concatRef(xs: readonly ND[], axis: number): ND {
  const a = axis < 0 ? axis + xs[0]!.shape.length : axis;
  const shape = [...xs[0]!.shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    let c = idx[a]!;
    let k = 0;
    while (c >= xs[k]!.shape[a]!) c -= xs[k++]!.shape[a]!;
    const j = [...idx];
    j[a] = c;
    out.data[i] = xs[k]!.data[ravel(j, xs[k]!.shape)]!;
  }
  return out;
}

/** torch.expand: new leading axes, unit axes repeated, -1 keeps an axis. */
export function expandRef(x: ND, shape: readonly number[]): ND {
  const lead = shape.length - x.shape.length;
  const full = shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
  return build(full, (idx) => ravel(x.shape.map((n, d) => (n === 1 ? 0 : idx[d + lead]!)), x.shape), x);
}

/** torch.roll along the given axes. */
export function rollRef(x: ND, shifts: readonly number[], axes: readonly number[]): ND {
  const total = x.shape.map(() => 0);
  axes.forEach((a, i) => (total[a < 0 ? a + x.shape.length : a]! += shifts[i]!));
  return build(
    x.shape,
    (idx) => ravel(idx.map((v, d) => (((v - total[d]!) % x.shape[d]!) + x.shape[d]!) % x.shape[d]!), x.shape),
    x,
  );
}
