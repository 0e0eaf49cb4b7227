import { nd, size, unravel, type ND } from './ndarray.js';

function axesOf(axes: number | number[] | undefined, rank: number): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : axes;
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** Naive reduction: every input element adds into (or competes for) its output slot. */
function reduceRef(x: ND, axes: number | number[] | undefined, keepDims: boolean, op: 'sum' | 'mean' | 'max'): ND {
  const red = axesOf(axes, x.shape.length);
  const outShape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!red.includes(i)) outShape.push(d);
    else if (keepDims) outShape.push(1);
  });
  const keptShape = x.shape.filter((_, i) => !red.includes(i));
  const out = nd(outShape, new Float64Array(size(outShape)).fill(op === 'max' ? -Infinity : 0));
  let count = 1;
  for (const a of red) count *= x.shape[a]!;
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    const kept = idx.filter((_, d) => !red.includes(d));
    let o = 0;
    for (let d = 0; d < kept.length; d++) o = o * keptShape[d]! + kept[d]!;
    const v = x.data[i]!;
    if (op === 'max') out.data[o] = Number.isNaN(v) || Number.isNaN(out.data[o]!) ? NaN : Math.max(out.data[o]!, v);
    else out.data[o]! += v;
  }
  if (op === 'mean') for (let o = 0; o < out.data.length; o++) out.data[o]! /= count;
  return out;
}

export const sumRef = (x: ND, axes?: number | number[], keepDims = false) => reduceRef(x, axes, keepDims, 'sum');
export const meanRef = (x: ND, axes?: number | number[], keepDims = false) => reduceRef(x, axes, keepDims, 'mean');
export const maxRef = (x: ND, axes?: number | number[], keepDims = false) => reduceRef(x, axes, keepDims, 'max');

/** softmax / log-softmax along one axis, in float64 with the row max subtracted. */
function softmaxRef(x: ND, axis: number, log: boolean): ND {
  const rank = x.shape.length;
  const a = axis < 0 ? axis + rank : axis;
  const r = x.shape[a]!;
  let inner = 1;
  for (let d = a + 1; d < rank; d++) inner *= x.shape[d]!;
  const outer = x.data.length / (r * inner);
  const out = nd(x.shape);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => o * r * inner + j * inner + i;
      let m = -Infinity;
      for (let j = 0; j < r; j++) m = Math.max(m, x.data[at(j)]!);
      let s = 0;
      for (let j = 0; j < r; j++) s += Math.exp(x.data[at(j)]! - m);
      for (let j = 0; j < r; j++) {
        const z = x.data[at(j)]! - m;
        out.data[at(j)] = log ? z - Math.log(s) : Math.exp(z) / s;
      }
    }
  }
  return out;
}

export const softmaxRefAt = (x: ND, axis = -1) => softmaxRef(x, axis, false);
export const logSoftmaxRefAt = (x: ND, axis = -1) => softmaxRef(x, axis, true);

/** max's JVP with ties to the first maximal element in row-major order: the tangent at
 * the smallest flat index holding the maximum of its output slot. */
export function maxJvpRef(x: ND, v: ND, axes?: number | number[], keepDims = false): ND {
  const m = maxRef(x, axes, keepDims);
  const red = axesOf(axes, x.shape.length);
  const keptShape = x.shape.filter((_, i) => !red.includes(i));
  const out = nd(m.shape);
  const found = new Uint8Array(m.data.length);
  for (let i = 0; i < x.data.length; i++) {
    const kept = unravel(i, x.shape).filter((_, d) => !red.includes(d));
    let o = 0;
    for (let d = 0; d < kept.length; d++) o = o * keptShape[d]! + kept[d]!;
    if (!found[o] && x.data[i] === m.data[o]) {
      out.data[o] = v.data[i]!;
      found[o] = 1;
    }
  }
  return out;
}
