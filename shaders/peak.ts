import { declare } from './common.js';

/** A compute-bound kernel of independent FMA chains: its FLOP/s is the adapter's
 * practical f32 peak, the yardstick for the GEMM and convolution kernels. */
export function peakKernel(iterations: number): string {
  return `
${declare([{ name: 'seed' }, { name: 'out', write: true }])}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let s = seed[0] + f32(g.x) * 1e-7;
  var a = vec4f(s, s + 1.0, s + 2.0, s + 3.0);
  var b = vec4f(s * 0.5, s - 1.0, s + 0.25, s - 0.5);
  let m = vec4f(0.999);
  let c = vec4f(1e-4);
  for (var i = 0u; i < ${iterations}u; i++) {
    a = fma(a, m, c);
    b = fma(b, m, c);
    a = fma(a, m, c);
    b = fma(b, m, c);
  }
  out[g.x] = dot(a, b);
}`;
}

/** FLOPs of one peakKernel thread: 4 vec4 FMAs per iteration, 2 flops per lane. */
export const peakFlopsPerThread = (iterations: number): number => iterations * 4 * 4 * 2;
