import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { declare, entry, main1d, unrollAxes } from './common.js';

/** What a bounded axis does with an input coordinate outside [0, n):
 * `none`: never happens (no axis is bounded), `zero`: the output is 0,
 * `reflect`: mirror without repeating the edge (-1 -> 1, n -> n-2, PyTorch 'reflect'),
 * `replicate`: clamp to the edge, `circular`: wrap around. */
export type GatherMode = 'none' | 'zero' | 'reflect' | 'replicate' | 'circular';

const GATHER_PARAMS = `struct P {
  n: u32, batch: u32, rank: u32, inBatch: u32, outBatch: u32, inBase: i32, outBase: u32, _p0: u32,
  dims: array<vec4u, 2>, step: array<vec4i, 2>, start: array<vec4i, 2>, bound: array<vec4i, 2>,
  inStride: array<vec4i, 2>, outStride: array<vec4u, 2>,
}`;

/** Strided gather over an output region of shape `dims`: per axis the input coordinate
 * is c = idx * step + start (bounded axes, bound > 0, map c into [0, bound) by `mode`),
 * read at inBase + sum c * inStride and written at outBase + sum idx * outStride.
 * `batch` leading copies (the K tangents) reuse one index computation, at strides
 * inBatch / outBatch. Without a source the region is filled with zeros. */
export function gatherKernel(mode: GatherMode, hasSource: boolean, rank: number): string {
  const bindings = hasSource ? [{ name: 'x' }, { name: 'y', write: true }] : [{ name: 'y', write: true }];
  return wgsl`
${GATHER_PARAMS}
${declare(bindings, 'P')}
${main1d(wgsl`
  if (i >= params.n) { return; }
  var rem = i;
  var dst = params.outBase;
#if ${hasSource}
  var src = params.inBase;
  var inside = true;
#endif
${unrollAxes(rank, (a) => axisCode(mode, hasSource, a))}
  for (var k = 0u; k < params.batch; k++) {
#if ${hasSource}
    var v = 0.0;
    if (inside) { v = x[k * params.inBatch + u32(src)]; }
    y[k * params.outBatch + dst] = v;
#else
    y[k * params.outBatch + dst] = 0.0;
#endif
  }
`)}`;
}

function axisCode(mode: GatherMode, hasSource: boolean, a: number): string {
  return wgsl`
  {
    let size = ${entry('params.dims', a)};
    let idx = rem % size;
    rem = rem / size;
    dst += idx * ${entry('params.outStride', a)};
#if ${hasSource}
    var c = i32(idx) * ${entry('params.step', a)} + ${entry('params.start', a)};
#if ${mode !== 'none'}
    let n = ${entry('params.bound', a)};
    if (n > 0) {
#if ${mode === 'zero'}
      inside = inside && c >= 0 && c < n;
#elif ${mode === 'reflect'}
      // one fold suffices since pads < n (checked on the host); the clamp only guards
      c = select(c, -c, c < 0);
      c = select(c, 2 * n - 2 - c, c >= n);
      c = clamp(c, 0, n - 1);
#elif ${mode === 'replicate'}
      c = clamp(c, 0, n - 1);
#else
      c = ((c % n) + n) % n;
#endif
    }
#endif
    src += c * ${entry('params.inStride', a)};
#endif
  }`;
}
