import { runtime } from './runtime.js';
import { Tensor, tidy } from './tensor.js';
import * as ops from './ops/index.js';
import { PEAK_VARIANTS, peakFlopsPerThread, peakIterations, peakKernel, peakUnroll } from '../shaders/peak.js';

export interface KernelTiming {
  name: string;
  gflop: number;
  ms: number;
  gflops: number;
  /** share of the measured peak */
  ofPeak?: number;
}

function now(): number {
  return globalThis.performance.now();
}

/** Median wall time in ms of `run` (enqueue + GPU completion), after one warm-up. */
export async function medianMs(run: () => void, repeats: number): Promise<number> {
  return (await interleavedMediansMs([run], repeats))[0]!;
}

/** Median wall times in ms of several `runs`, each warmed up once, then timed in turn
 * `repeats` times (a, b, a, b, ...), so that each sees the same spells of a host whose
 * speed wanders: their ratio is steadier than that of medians taken one after another. */
export async function interleavedMediansMs(runs: readonly (() => void)[], repeats: number): Promise<number[]> {
  const rt = runtime();
  for (const run of runs) {
    run();
    await rt.sync();
  }
  const times = runs.map((): number[] => []);
  for (let i = 0; i < repeats; i++) {
    for (const [j, run] of runs.entries()) {
      const t0 = now();
      run();
      await rt.sync();
      times[j]!.push(now() - t0);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

function random(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return Tensor.fromData(data, shape);
}

/** The adapter's f32 peak: the fastest of the FMA-chain variants (chains per thread,
 * workgroup size), so the kernels' shares are of a ceiling this adapter really reaches. */
export async function measurePeak(repeats = 5): Promise<KernelTiming> {
  const rt = runtime();
  const threads = 256 * 256;
  const seed = Tensor.fromData([0.5], [1]);
  const out = Tensor.empty([threads]);
  let best: KernelTiming | null = null;
  for (const v of PEAK_VARIANTS) {
    // the same FLOPs per variant: fewer iterations for more chains and longer bodies
    const iterations = peakIterations(v);
    const ms = await medianMs(
      () =>
        rt.dispatch({
          key: `peak:${iterations}:${v.chains}:${v.wg}:${peakUnroll(v)}`,
          source: () => peakKernel(iterations, v),
          inputs: [seed.buffer],
          outputs: [out.buffer],
          workgroups: [threads / v.wg],
        }),
      repeats,
    );
    const gflop = (threads * peakFlopsPerThread(iterations, v)) / 1e9;
    const t = { name: `peak (FMA, ${v.chains} vec4 chains, ${peakUnroll(v)} a loop, wg ${v.wg})`, gflop, ms, gflops: gflop / (ms / 1e3) };
    if (!best || t.gflops > best.gflops) best = t;
  }
  seed.dispose();
  out.dispose();
  return best!;
}

async function timeOp(name: string, gflop: number, inputs: Tensor[], op: () => Tensor, repeats: number): Promise<KernelTiming> {
  const ms = await medianMs(() => tidy(() => void op()), repeats);
  for (const t of inputs) t.dispose();
  return { name, gflop, ms, gflops: gflop / (ms / 1e3) };
}

/** GFLOP/s of the GEMM (1024^3) and of ResNet-50-shaped convolutions, next to the peak. */
export async function benchKernels(opts: { repeats?: number; matmulSize?: number } = {}): Promise<KernelTiming[]> {
  const repeats = opts.repeats ?? 5;
  const n = opts.matmulSize ?? 1024;
  const peak = await measurePeak(repeats);
  const results: KernelTiming[] = [peak];

  const a = random([n, n], 1);
  const b = random([n, n], 2);
  results.push(await timeOp(`matmul ${n}x${n}x${n}`, (2 * n ** 3) / 1e9, [a, b], () => ops.matmul(a, b).primal, repeats));

  // ResNet-50 layer1: 3x3 64->64 at 56x56, and the 1x1 256->64 reduction
  const x3 = random([1, 64, 56, 56], 3);
  const w3 = random([64, 64, 3, 3], 4);
  results.push(
    await timeOp('conv2d 3x3 64->64 @56x56', (2 * 64 * 64 * 9 * 56 * 56) / 1e9, [x3, w3], () => ops.conv2d(x3, w3, null, { padding: 1 }).primal, repeats),
  );
  const x1 = random([1, 256, 56, 56], 5);
  const w1 = random([64, 256, 1, 1], 6);
  results.push(await timeOp('conv2d 1x1 256->64 @56x56', (2 * 256 * 64 * 56 * 56) / 1e9, [x1, w1], () => ops.conv2d(x1, w1, null).primal, repeats));

  for (const r of results.slice(1)) r.ofPeak = r.gflops / peak.gflops;
  return results;
}
