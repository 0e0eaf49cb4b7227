import { declare } from './common.js';

/** Shape of a peak kernel: independent vec4 FMA chains per thread, threads per
 * workgroup. CPU drivers want enough chains to cover FMA latency on every SIMD port;
 * GPUs want enough threads. */
export interface PeakVariant {
  chains: number;
  wg: number;
  /** FMAs per chain and loop iteration (default 2). Lavapipe blends every value a loop
   * carries with its execution mask once per iteration, so longer bodies get closer to
   * the CPU: 8-16 ran 1.1-1.3x faster than 2 there. */
  unroll?: number;
}

/** The variants `lee bench` tries; the fastest is the adapter's peak. */
export const PEAK_VARIANTS: readonly PeakVariant[] = [
  { chains: 2, wg: 256 },
  { chains: 4, wg: 256 },
  { chains: 8, wg: 256 },
  { chains: 4, wg: 64 },
  { chains: 8, wg: 64 },
  { chains: 2, wg: 256, unroll: 16 },
  { chains: 4, wg: 256, unroll: 8 },
  { chains: 8, wg: 256, unroll: 8 },
];

/** FMAs per chain and loop iteration of a variant. */
export const peakUnroll = (v: PeakVariant): number => v.unroll ?? 2;

/** A compute-bound kernel of independent FMA chains: its FLOP/s is the adapter's
 * practical f32 peak, the yardstick for the GEMM and convolution kernels. */
export function peakKernel(iterations: number, v: PeakVariant = { chains: 2, wg: 256 }): string {
  const chains = Array.from({ length: v.chains }, (_, i) => i);
  return `
${declare([{ name: 'seed' }, { name: 'out', write: true }])}
@compute @workgroup_size(${v.wg})
fn main(@builtin(global_invocation_id) g: vec3u) {
  let s = seed[0] + f32(g.x) * 1e-7;
${chains.map((i) => `  var a${i} = vec4f(s + ${i}.0, s - ${i + 1}.0, s * 0.5 + ${i}.0, s + 0.25);`).join('\n')}
  let m = vec4f(0.999);
  let c = vec4f(1e-4);
  for (var i = 0u; i < ${iterations}u; i++) {
${Array.from({ length: peakUnroll(v) }, () => chains.map((i) => `    a${i} = fma(a${i}, m, c);`).join('\n')).join('\n')}
  }
  out[g.x] = ${chains.map((i) => `dot(a${i}, m)`).join(' + ')};
}`;
}

/** FLOPs of one peakKernel thread: `unroll` vec4 FMAs per chain and iteration, 2 flops
 * per lane. */
export const peakFlopsPerThread = (iterations: number, v: PeakVariant = { chains: 2, wg: 256 }): number => iterations * peakUnroll(v) * v.chains * 4 * 2;

/** The loop count that gives every variant the same FLOPs per thread (16384). */
export const peakIterations = (v: PeakVariant): number => 2048 / (v.chains * peakUnroll(v));
