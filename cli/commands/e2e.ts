import { LeeError } from '../../engine/errors.js';
import { init } from '../../engine/runtime.js';
import { e2eRaw, labelledAccuracy, meanOverImages } from '../../lee/report.js';
import { parseGenerators } from '../../lee/transforms.js';
import { DEFAULT_SAMPLES } from '../../lee/metrics.js';
import { checkOutputs, writeOutput } from '../paths.js';
import { intFlag, parseCommand } from '../args.js';
import { INPUT_OPTIONS, interpFlag, isDemoRun, prepareInputs, DEFAULT_MODEL } from '../inputs.js';
import { demoInputs } from '../demo.js';
import { DEMO_E2E_BATCH, E2E_BATCH } from '../../lee/plan.js';
import type { Generator } from '../../lee/transforms.js';
import { runJson, runModelE2E, runsCsv, settingsJson, type E2ESettings, type ModelRun } from '../e2e-model.js';

export const e2eHelp = `lee e2e [--model NAME|HUB_ID] [--weights FILE.safetensors|DIR] [--images DIR|FILE ...]
        [--input FILE.safetensors] [--labels FILE] [--transforms all|a,b,...]
        [--interp bilinear|bicubic] [--batch N] [--out results.csv] [--json results.json]
        [--raw raw.safetensors] [--sample-metrics] [--seed S] [--samples N] [--heads N] [--quiet]

End-to-end Lie derivatives of the softmax output for every image, all requested
generators in one forward-mode pass. Prints a per-image table of mean |L p|, the top-1
class and, for labelled images, the top-1 accuracy.

With no --model, --weights, --images or --input it runs the bundled demo: eight small
timm models trained on Fashion-MNIST (four families, each trained on the images as they
are and with random shifts and rotations) on 250 bundled test images (25 per class), and
prints each model's accuracy and mean |L p| per generator.

  --model       an architecture (\`lee models\`; timm's arch.tag names too), or a
                Hugging Face hub id (timm/resnet50.a1_in1k, hf-hub:timm/..., @revision),
                found in the hub cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub)
                or downloaded there (HF_ENDPOINT, HF_TOKEN; HF_HUB_OFFLINE=1: cache only)
  --weights     a timm checkpoint folder (config.json + model.safetensors, as timm's
                save_for_hf writes it), or a timm state_dict as .safetensors for --model
                (default ${DEFAULT_MODEL}); without weights a seeded, randomly initialised model
                runs (clearly not a trained one). config.json sets the architecture,
                preprocessing (pretrained_cfg) and class names (label_names)
  --images      PNG/JPEG files or folders, preprocessed with the model's timm eval
                config. A folder of class sub-folders (ImageFolder) labels its images:
                integer folder names are class indices, ImageNet synsets (n01440764) and
                the model's label_names map to theirs, else --labels maps them. Without
                --images/--input: the bundled sample photos (the synthetic images at 64 px
                for a random model)
  --input       safetensors with tensor 'images' [N, 3, H, W], already normalised
  --labels      class names, one per line (line i is class i), for ImageFolder folders
  --interp      bilinear (default, the paper's) or bicubic
  --batch       images per pass (default ${E2E_BATCH}; the demo ${DEMO_E2E_BATCH})
  --out         CSV the paper's plotting code reads (image, model, trans_x_deriv, ...,
                top1, top1_name, label, acc)
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
  // the demo's 32 px images fit the GPU 50 at a time: fewer, fuller dispatches
  const batch = intFlag(values.batch, 'batch', isDemoRun(values) ? DEMO_E2E_BATCH : E2E_BATCH);
  const seed = intFlag(values.seed, 'seed', 0, 0);
  const samples = values.samples === undefined ? undefined : intFlag(values.samples, 'samples', 1);
  if (seed >= 2 ** 32) throw new LeeError(`--seed must be below 2^32, got ${seed}`);

  checkOutputs({ out: values.out, json: values.json, raw: values.raw });
  const demo = isDemoRun(values);
  const runs = demo ? await demoInputs() : [await prepareInputs('e2e', values, f.positionals)];
  if (demo) console.error(`note: the ${runs.length} bundled demo models (assets/demo) on the ${runs[0]!.source.names.length} bundled Fashion-MNIST test images`);

  const settings: E2ESettings = { transforms, interp, batch, ...(values['sample-metrics'] ? { sampleMetrics: { seed, samples } } : {}) };
  const rt = await init();
  const done: ModelRun[] = [];
  for (const [i, run] of runs.entries()) {
    const label = demo ? `e2e ${run.plan.id} (${i + 1}/${runs.length})` : 'e2e';
    done.push(await runModelE2E(run, settings, label, !!values.quiet));
  }

  if (demo) printDemo(done, transforms);
  else printTable(done[0]!, transforms);
  if (values.out) await writeOutput(values.out, runsCsv(done));
  if (values.json) {
    const common = settingsJson(rt, settings);
    const perModel = done.map((d) => runJson(d, settings));
    const body = demo ? { demo: true, ...common, models: perModel } : { ...perModel[0]!, ...common };
    await writeOutput(values.json, JSON.stringify(body, null, 2));
  }
  if (values.raw) await writeOutput(values.raw, e2eRaw(done.map((d) => ({ model: d.plan.id, result: d.result })), interp, demo));
}

const percent = (a: { correct: number; labelled: number }): string => `${((100 * a.correct) / a.labelled).toFixed(1)}%`;

/** Per image: mean |L p| per generator, the top-1 class and, if labelled, the label. */
function printTable(run: ModelRun, gens: readonly Generator[]): void {
  const rows = run.result.images;
  const width = Math.max(5, ...rows.map((r) => r.image.length));
  const top1 = run.predictions.map((p) => (p.top1Name !== undefined ? `${p.top1} ${p.top1Name}` : String(p.top1)));
  const tw = Math.max(4, ...top1.map((t) => t.length));
  const labelled = run.predictions.some((p) => p.label !== undefined);
  const head = `${'image'.padEnd(width)}  ${gens.map((g) => g.padStart(17)).join(' ')}  ${'top1'.padEnd(tw)}${labelled ? '  label' : ''}`;
  console.log(head.trimEnd());
  rows.forEach((r, i) => {
    const p = run.predictions[i]!;
    const lab = labelled ? `  ${p.label ?? ''}${p.acc === 1 ? ' ok' : ''}` : '';
    console.log(`${r.image.padEnd(width)}  ${gens.map((g) => (r.meanAbs[g] ?? NaN).toExponential(3).padStart(17)).join(' ')}  ${top1[i]!.padEnd(tw)}${lab}`.trimEnd());
  });
  if (rows.length > 1) console.log(`${'mean'.padEnd(width)}  ${gens.map((g) => meanOverImages(run.result.images, g).toExponential(3).padStart(17)).join(' ')}`);
  const acc = labelledAccuracy(run.predictions);
  if (acc) console.log(`top-1 accuracy: ${percent(acc)} (${acc.correct}/${acc.labelled} labelled images)`);
}

/** The demo: per model, accuracy and each generator's mean |L p| over the images. */
function printDemo(runs: readonly ModelRun[], gens: readonly Generator[]): void {
  const width = Math.max(5, ...runs.map((r) => r.plan.id.length));
  const cols = gens.map((g) => g.length);
  console.log(`mean |L p| over ${runs[0]!.result.images.length} images (lower: more invariant)`);
  console.log(`${'model'.padEnd(width)}  ${'acc'.padStart(6)}  ${gens.map((g, i) => g.padStart(Math.max(9, cols[i]!))).join('  ')}`);
  for (const r of runs) {
    const acc = labelledAccuracy(r.predictions);
    const cells = gens.map((g, i) => meanOverImages(r.result.images, g).toExponential(2).padStart(Math.max(9, cols[i]!)));
    console.log(`${r.plan.id.padEnd(width)}  ${(acc ? percent(acc) : '').padStart(6)}  ${cells.join('  ')}`);
  }
}
