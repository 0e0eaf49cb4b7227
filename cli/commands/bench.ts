import { benchKernels } from '../../engine/bench.js';
import { describeAdapter } from '../../engine/device.js';
import { init } from '../../engine/runtime.js';
import { benchLayerwise, benchModel, profileModel, type PassProfile } from '../../lee/bench.js';
import { disposeWeights } from '../../models/module.js';
import { LeeError } from '../../engine/errors.js';
import { checkOutputs, writeOutput } from '../paths.js';
import { intFlag, parseFlags } from '../args.js';
import { loadModel, planModel } from '../inputs.js';

export const benchHelp = `lee bench [--model NAME [--size S] [--batch N] [--layerwise] [--profile]] [--repeats N] [--json FILE]

Measure on this adapter: a peak f32 FLOP/s (independent FMA chains), the GEMM at
1024^3 and ResNet-50-shaped convolutions, each as GFLOP/s and share of the peak; with
--model, also one forward pass against all ten Lie derivatives in one pass (forward_ms,
lie10_ms, ratio, images_per_s) on seeded random weights at S px (default 224), batch N
(default 1). Times are medians of N runs (default 5; 3 for a model) after a warm-up;
a model's forward and ten Lie derivatives run in turn, so both see the same host.
With --layerwise, also layerwise attribution (translate_x) run twice and each timed
once: layerwise_ms (the second, warm like the medians) and its ratio to forward_ms,
and layerwise_first_ms (compiling pipelines and allocating buffers on the way).
With --profile, every dispatch (and buffer copy) of one forward and of the
ten-generator pass is timed on the GPU (timestamp queries) and summed per op family
and kernel variant (table on stdout, all rows in the JSON).
Absolute numbers only mean something for the adapter printed with them.`;

export async function bench(argv: string[]): Promise<void> {
  const flags = parseFlags(
    argv,
    {
      model: { type: 'string' },
      size: { type: 'string' },
      batch: { type: 'string' },
      repeats: { type: 'string' },
      json: { type: 'string' },
      heads: { type: 'string' },
      layerwise: { type: 'boolean' },
      profile: { type: 'boolean' },
    },
    'bench',
  );
  const repeats = intFlag(flags.repeats, 'repeats', 5);
  if ((flags.profile || flags.layerwise) && !flags.model) throw new LeeError(`--${flags.profile ? 'profile' : 'layerwise'} needs --model`);
  const size = intFlag(flags.size, 'size', 224, 2);
  const batch = intFlag(flags.batch, 'batch', 1);
  const heads = flags.heads === undefined ? undefined : intFlag(flags.heads, 'heads', 1);
  checkOutputs({ json: flags.json });
  const plan = flags.model ? await planModel({ arch: flags.model }, heads) : undefined;
  const rt = await init();
  const adapter = describeAdapter(rt.adapter);
  const name = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' ') || 'unknown adapter';
  console.log(`adapter: ${name}`);
  const kernels = await benchKernels({ repeats });
  for (const k of kernels) {
    const share = k.ofPeak === undefined ? '' : `  ${(100 * k.ofPeak).toFixed(0)} % of peak`;
    console.log(`${k.name.padEnd(30)} ${k.ms.toFixed(2).padStart(9)} ms ${k.gflops.toFixed(1).padStart(9)} GFLOP/s${share}`);
  }
  let model: Record<string, unknown> | undefined;
  if (plan) {
    const loaded = { name: plan.name, model: loadModel(plan) };
    const t = await benchModel(loaded.model, size, batch, flags.repeats ? repeats : 3);
    model = { model: loaded.name, ...t };
    console.log(
      `${loaded.name} @${size}px batch ${batch}: forward ${t.forward_ms.toFixed(1)} ms, ten Lie derivatives ${t.lie10_ms.toFixed(1)} ms, ratio ${t.ratio.toFixed(2)}, ${t.images_per_s.toFixed(2)} images/s`,
    );
    if (flags.layerwise) {
      const l = await benchLayerwise(loaded.model, size, batch);
      const ratio = l.layerwise_ms / t.forward_ms;
      model = { ...model, ...l, layerwise_ratio: ratio };
      console.log(`layerwise (translate_x, ${l.layers} layers, ${l.passes} passes): ${l.layerwise_ms.toFixed(1)} ms, ${ratio.toFixed(1)} forward passes (first run ${l.layerwise_first_ms.toFixed(1)} ms)`);
    }
    if (flags.profile) {
      if (!rt.profile.timestamps) throw new LeeError('--profile: this adapter has no timestamp-query feature');
      const p = await profileModel(loaded.model, size, batch);
      model = { ...model, profile: p };
      printProfile('forward', p.forward);
      printProfile('ten Lie derivatives', p.lie10);
    }
    disposeWeights(loaded.model);
  }
  if (flags.json) await writeOutput(flags.json, JSON.stringify({ adapter, ...model, kernels }, null, 2));
}

function printProfile(title: string, p: PassProfile): void {
  const copies = p.transfers ? ` and ${p.transfers} buffer copies or clears` : '';
  console.log(`\nprofile, ${title}: ${p.gpu_ms.toFixed(1)} ms GPU time in ${p.dispatches} dispatches${copies}`);
  console.log(`  ${'family'.padEnd(14)} ${'dispatches'.padStart(10)} ${'ms'.padStart(10)} ${'share'.padStart(7)}`);
  for (const f of p.families) console.log(`  ${f.family.padEnd(14)} ${String(f.dispatches).padStart(10)} ${f.ms.toFixed(1).padStart(10)} ${(100 * f.share).toFixed(1).padStart(6)}%`);
  console.log(`  top kernel variants:`);
  for (const v of p.variants.slice(0, 8)) console.log(`  ${v.variant.padEnd(48)} ${String(v.dispatches).padStart(5)} ${v.ms.toFixed(1).padStart(10)} ${(100 * v.share).toFixed(1).padStart(6)}%`);
}
