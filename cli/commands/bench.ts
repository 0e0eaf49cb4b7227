import { writeFile } from 'node:fs/promises';
import { benchKernels } from '../../engine/bench.js';
import { describeAdapter } from '../../engine/device.js';
import { init } from '../../engine/runtime.js';
import { intFlag, parseFlags } from '../args.js';

export const benchHelp = `lee bench [--kernels] [--repeats N] [--json FILE]

Measure on this adapter: a peak f32 FLOP/s (independent FMA chains), the GEMM at
1024^3 and ResNet-50-shaped convolutions, each as GFLOP/s and share of the peak.
Times are medians of N runs (default 5) after a warm-up. Absolute numbers only mean
something for the adapter printed with them.`;

export async function bench(argv: string[]): Promise<void> {
  const flags = parseFlags(
    argv,
    { kernels: { type: 'boolean' }, repeats: { type: 'string' }, json: { type: 'string' }, quiet: { type: 'boolean' } },
    'bench',
  );
  const rt = await init();
  const adapter = describeAdapter(rt.adapter);
  const name = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' ') || 'unknown adapter';
  const kernels = await benchKernels({ repeats: intFlag(flags.repeats, 'repeats', 5) });
  console.log(`adapter: ${name}`);
  for (const k of kernels) {
    const share = k.ofPeak === undefined ? '' : `  ${(100 * k.ofPeak).toFixed(0)} % of peak`;
    console.log(`${k.name.padEnd(30)} ${k.ms.toFixed(2).padStart(9)} ms ${k.gflops.toFixed(1).padStart(9)} GFLOP/s${share}`);
  }
  if (flags.json) await writeFile(flags.json, JSON.stringify({ adapter, kernels }, null, 2));
}
