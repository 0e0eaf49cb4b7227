/** Float64 CPU arrays for the reference implementations. */
export interface ND {
  shape: number[];
  data: Float64Array;
}

export function nd(shape: readonly number[], data?: ArrayLike<number>): ND {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = data ? Float64Array.from(data) : new Float64Array(n);
  if (d.length !== n) throw new Error(`nd: ${d.length} values for shape [${shape}]`);
  return { shape: [...shape], data: d };
}

export function strides(shape: readonly number[]): number[] {
  const s: number[] = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Multi-index of flat position i. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function map(a: ND, f: (v: number) => number): ND {
  return { shape: [...a.shape], data: a.data.map(f) };
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error('no broadcast');
    out.push(Math.max(x, y));
  }
  return out;
}

/** Value of `a` at the broadcast multi-index `idx` of a larger shape. */
export function atBroadcast(a: ND, idx: readonly number[]): number {
  const off = idx.length - a.shape.length;
  const s = strides(a.shape);
  let p = 0;
  for (let d = 0; d < a.shape.length; d++) p += (a.shape[d] === 1 ? 0 : idx[d + off]!) * s[d]!;
  return a.data[p]!;
}

export function zip(a: ND, b: ND, f: (x: number, y: number) => number): ND {
  const shape = broadcastShape(a.shape, b.shape);
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    out.data[i] = f(atBroadcast(a, idx), atBroadcast(b, idx));
  }
  return out;
}

/** a + s b, same shape. */
export function axpy(a: ND, s: number, b: ND): ND {
  return { shape: [...a.shape], data: a.data.map((v, i) => v + s * b.data[i]!) };
}
