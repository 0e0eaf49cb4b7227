import { LeeError } from '../../engine/errors.js';
import { describeAdapter } from '../../engine/device.js';
import { init } from '../../engine/runtime.js';
import { encodeSafetensors } from '../../engine/safetensors.js';
import { disposeWeights } from '../../models/module.js';
import { runE2E } from '../../lee/e2e.js';
import { e2eCsv } from '../../lee/report.js';
import { COLUMN, parseGenerators } from '../../lee/transforms.js';
import { runSampleMetrics, DEFAULT_SAMPLES } from '../../lee/metrics.js';
import { VERSION } from '../../index.js';
import { checkOutputs, writeOutput } from '../paths.js';
import { intFlag, parseCommand } from '../args.js';
import { INPUT_OPTIONS, interpFlag, loadModel, prepareInputs, DEFAULT_MODEL } from '../inputs.js';
import { progress } from '../progress.js';

export const e2eHelp = `lee e2e [--model NAME] [--weights FILE.safetensors] [--images DIR|FILE ...]
        [--input FILE.safetensors] [--transforms all|a,b,...] [--interp bilinear|bicubic]
        [--batch N] [--out results.csv] [--json results.json] [--raw raw.safetensors]
        [--sample-metrics] [--seed S] [--samples N] [--heads N] [--quiet]

End-to-end Lie derivatives of the softmax output for every image, all requested
generators in one forward-mode pass. Prints a per-image table of mean |L p|.

  --model       architecture (\`lee models\`); default ${DEFAULT_MODEL}
  --weights     timm state_dict as safetensors; without it a seeded, randomly
                initialised model runs (clearly not a trained one)
  --images      PNG/JPEG files or folders, preprocessed with the model's timm eval
                config; without --images/--input the bundled images run
  --input       safetensors with tensor 'images' [N, 3, H, W], already normalised
  --transforms  'all' (default) or a comma list of: translate_x, translate_y, rotate,
                shear_x, shear_y, stretch_x, stretch_y, saturate, scale, hyperbolic_rotate
  --interp      bilinear (default, the paper's) or bicubic
  --batch       images per pass (default 8)
  --out         CSV the paper's plotting code reads (image, model, trans_x_deriv, ...)
  --json        the same plus run metadata (adapter, versions, timings)
  --raw         safetensors: logits, probs and lie.<generator> [N, classes]
  --sample-metrics
                also the paper's sample-based metrics (SPEC 5.5): consistency_x0..7,
                consistency_y0..7, eq_t, eq_t_frac, eq_r, trans_x_sample,
                trans_y_sample, rotate_sample (draws per metric: ${Object.entries(DEFAULT_SAMPLES).map(([k, v]) => `${k} ${v}`).join(', ')})
  --seed        seed of the sample-based metrics' random draws (default 0)
  --samples     draws per sample-based metric, overriding the defaults above
  --heads       attention heads of a ViT/DeiT whose weights are not the named
                configuration (a state_dict does not record them)
  --quiet       no progress line`;

export async function e2e(argv: string[]): Promise<void> {
  const f = parseCommand(
    argv,
    {
      ...INPUT_OPTIONS,
      transforms: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      raw: { type: 'string' },
      seed: { type: 'string' },
      samples: { type: 'string' },
      'sample-metrics': { type: 'boolean' },
    },
    'e2e',
  );
  const values = f.values;
  const interp = interpFlag(values.interp);
  const transforms = parseGenerators(values.transforms ?? 'all');
  const batch = intFlag(values.batch, 'batch', 8);
  const seed = intFlag(values.seed, 'seed', 0, 0);
  const samples = values.samples === undefined ? undefined : intFlag(values.samples, 'samples', 1);
  if (seed >= 2 ** 32) throw new LeeError(`--seed must be below 2^32, got ${seed}`);

  checkOutputs({ out: values.out, json: values.json, raw: values.raw });
  const { plan, source, input } = await prepareInputs('e2e', values, f.positionals);

  const rt = await init();
  const model = loadModel(plan);
  let result, extra;
  try {
    result = await runE2E(model, source, { transforms, interp, batch, onProgress: progress('e2e', !!values.quiet) });
    const onProgress = progress('sample metrics', !!values.quiet);
    extra = values['sample-metrics'] ? await runSampleMetrics(model, source, { batch, seed, samples, onProgress }) : [];
  } finally {
    disposeWeights(model);
  }

  printTable(result.images, transforms);
  if (values.out) await writeOutput(values.out, e2eCsv(plan.name, result.images, extra));
  if (values.json) {
    const adapter = describeAdapter(rt.adapter);
    const meta = {
      model: plan.name,
      weights: plan.weights,
      input,
      interp,
      transforms,
      batch,
      classes: result.classes,
      adapter,
      versions: { 'lee-gpu': VERSION, node: process.version },
      timings: { total_s: result.seconds, images_per_s: result.images.length / result.seconds },
      columns: Object.fromEntries(transforms.map((g) => [g, COLUMN[g]])),
    };
    const perImage = result.images.map((r, i) => ({ ...r, ...(extra[i] ? { sample_metrics: extra[i] } : {}) }));
    const sampling = extra.length ? { sample_metrics: { seed, samples: samples ?? DEFAULT_SAMPLES } } : {};
    await writeOutput(values.json, JSON.stringify({ ...meta, ...sampling, images: perImage }, null, 2));
  }
  if (values.raw) {
    const n = result.images.length;
    const c = result.classes;
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
      logits: { shape: [n, c], data: result.logits },
      probs: { shape: [n, c], data: result.probs },
    };
    for (const [g, v] of result.lie) tensors[`lie.${g}`] = { shape: [n, c], data: v };
    await writeOutput(values.raw, encodeSafetensors(tensors, { model: plan.name, interp }));
  }
}

function printTable(rows: { image: string; meanAbs: Partial<Record<string, number>> }[], gens: readonly string[]): void {
  const width = Math.max(5, ...rows.map((r) => r.image.length));
  console.log(`${'image'.padEnd(width)}  ${gens.map((g) => g.padStart(17)).join(' ')}`);
  for (const r of rows) {
    console.log(`${r.image.padEnd(width)}  ${gens.map((g) => (r.meanAbs[g] ?? NaN).toExponential(3).padStart(17)).join(' ')}`);
  }
}
