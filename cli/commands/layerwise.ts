import { LeeError } from '../../engine/errors.js';
import { init } from '../../engine/runtime.js';
import { disposeWeights } from '../../models/module.js';
import { runLayerwise, type LayerwiseRun } from '../../lee/layerwise.js';
import { layerwiseCsv, layerwiseRaw, layerwiseSvg, meanShares } from '../../lee/layerwise-report.js';
import { GENERATORS, parseGenerators } from '../../lee/transforms.js';
import { checkOutputs, writeOutput } from '../paths.js';
import { intFlag, parseCommand } from '../args.js';
import { INPUT_OPTIONS, interpFlag, isDemoRun, loadModel, prepareInputs, DEFAULT_MODEL, type LabelledSource } from '../inputs.js';
import { demoInputs } from '../demo.js';
import { progress } from '../progress.js';

/** SPEC 5.3: sum_i c_i must equal the end-to-end value to this, relative, in float32. */
export const ADDITIVITY_TOLERANCE = 1e-4;

export const layerwiseHelp = `lee layerwise [--model NAME|HUB_ID] [--weights FILE.safetensors|DIR] [--images DIR|FILE ...]
        [--input FILE.safetensors] [--labels FILE] [--transform NAME] [--interp bilinear|bicubic]
        [--batch N] [--chunk N] [--out layers.csv] [--raw contrib.safetensors]
        [--plot layers.svg] [--heads N] [--quiet]

Exact, complete layerwise attribution of the Lie derivative of the softmax output
(SPEC 5.3): for every layer i (timm's leaf modules, timm's Attention as one, and the
non-equivariant operations outside modules: ViT's pos_embed, the Mixer's global_pool),
its contribution c_i = J_{>i} L f_i, computed with forward mode, no random probes. The
contributions sum to the end-to-end Lie derivative; the relative residual is checked
per image and any above ${ADDITIVITY_TOLERANCE} is flagged. Prints the layers with the largest share.

With no --model, --weights, --images or --input it runs the bundled demo pair: the
Fashion-MNIST ResNet trained on the images as they are and the one trained with
random shifts and rotations, on 50 bundled test images, layer by layer side by side.

  --model      an architecture (\`lee models\`) or a Hugging Face hub id, as for lee e2e
  --weights    a timm checkpoint folder (config.json + model.safetensors) or a timm
               state_dict as .safetensors for --model (default ${DEFAULT_MODEL}); without
               weights a seeded, randomly initialised model runs (clearly not a trained one)
  --images     PNG/JPEG files or folders (the model's timm eval preprocessing; ImageFolder
               trees as for lee e2e); without --images/--input the bundled images run
  --labels     class names, one per line, for ImageFolder folders
  --input      safetensors with tensor 'images' [N, 3, H, W], already normalised
  --transform  one generator (default translate_x): ${GENERATORS.join(', ')}
  --interp     bilinear (default, the paper's) or bicubic
  --batch      images per pass (default 4; the demo 25)
  --chunk      at most N layers carried per forward pass as tangent directions (default:
               as many as keep each tangent stack within a quarter of the adapter's
               largest storage binding, at most 256 MiB); fewer is less GPU memory and
               more passes
  --out        CSV, one row per image and layer: layer, type, order, image, sq_norm
               (||c_i||^2, the paper's quantity), share (||c_i|| / sum_j ||c_j||),
               model, transform, residual
  --raw        safetensors: contrib.<layer> [N, classes] for every layer, lie.<transform>,
               probs, logits
  --plot       SVG bar chart of each layer's share in network order (the paper's Fig. 4)
  --heads      attention heads of a ViT/DeiT whose weights are not the named configuration
  --quiet      no progress line`;

export async function layerwise(argv: string[]): Promise<void> {
  const f = parseCommand(
    argv,
    {
      ...INPUT_OPTIONS,
      transform: { type: 'string' },
      chunk: { type: 'string' },
      out: { type: 'string' },
      raw: { type: 'string' },
      plot: { type: 'string' },
    },
    'layerwise',
  );
  const values = f.values;
  const interp = interpFlag(values.interp);
  const gens = parseGenerators(values.transform ?? 'translate_x');
  if (gens.length !== 1) throw new LeeError(`--transform takes one generator, got '${values.transform}'`);
  const transform = gens[0]!;
  const batch = intFlag(values.batch, 'batch', isDemoRun(values) ? 25 : 4);
  const chunk = values.chunk === undefined ? undefined : intFlag(values.chunk, 'chunk', 1);

  checkOutputs({ out: values.out, plot: values.plot, raw: values.raw });
  const demo = isDemoRun(values);
  const inputs = demo ? (await demoInputs(DEMO_PAIR)).map((r) => ({ ...r, source: firstPerClass(r.source, DEMO_PER_CLASS) })) : [await prepareInputs('layerwise', values, f.positionals)];
  if (demo) console.error(`note: the bundled demo pair ${DEMO_PAIR.join(' / ')} on ${inputs[0]!.source.names.length} bundled Fashion-MNIST test images`);
  await init();
  const runs: { id: string; run: LayerwiseRun }[] = [];
  for (const { plan, source } of inputs) {
    const model = loadModel(plan);
    try {
      const label = demo ? `layerwise ${plan.id}` : 'layerwise';
      const run = await runLayerwise(model, source, { transform, interp, batch, chunk, onProgress: progress(label, !!values.quiet, 'passes') });
      runs.push({ id: plan.id, run });
    } finally {
      disposeWeights(model);
    }
  }

  if (demo) printPair(runs, transform);
  else printSummary(runs[0]!.run);
  for (const { id, run } of runs) {
    const flagged = run.residual.map((r, b) => [r, b] as const).filter(([r]) => !(r < ADDITIVITY_TOLERANCE));
    if (flagged.length) {
      const list = flagged.map(([r, b]) => `${run.images[b]} ${r.toExponential(2)}`).join(', ');
      console.error(`warning: ${demo ? `${id}: ` : ''}additivity residual above ${ADDITIVITY_TOLERANCE} (the contributions do not sum to the end-to-end value): ${list}`);
    }
  }
  if (values.out) {
    const parts = runs.map(({ id, run }, i) => layerwiseCsv(run, id, transform).split('\n').slice(i ? 1 : 0).join('\n'));
    await writeOutput(values.out, parts.join(''));
  }
  if (values.plot) await writeOutput(values.plot, stackSvgs(runs.map(({ id, run }) => layerwiseSvg(run, id, transform))));
  if (values.raw) await writeOutput(values.raw, layerwiseRaw(runs.map(({ id, run }) => ({ model: id, run })), transform, interp, demo));
}

/** The demo's pair: one family trained on the images as they are and with shifts and
 * rotations. */
const DEMO_PAIR = ['fmnist-resnet-canonical', 'fmnist-resnet-augmented'];
const DEMO_PER_CLASS = 5;

/** The first `k` images of each class, so the demo stays quick. */
function firstPerClass(source: LabelledSource, k: number): LabelledSource {
  const keep: number[] = [];
  const seen = new Map<number | undefined, number>();
  source.labels.forEach((l, i) => {
    const c = seen.get(l) ?? 0;
    if (c < k) keep.push(i);
    seen.set(l, c + 1);
  });
  const [h, w] = source.size;
  const per = 3 * h * w;
  return {
    names: keep.map((i) => source.names[i]!),
    labels: keep.map((i) => source.labels[i]),
    size: source.size,
    load: async (start, end) => {
      const out = new Float32Array((end - start) * per);
      for (let j = start; j < end; j++) out.set(await source.load(keep[j]!, keep[j]! + 1), (j - start) * per);
      return out;
    },
  };
}

/** Several SVG charts one under the other, in one SVG. */
function stackSvgs(svgs: readonly string[]): string {
  if (svgs.length === 1) return svgs[0]!;
  const size = (svg: string) => {
    const m = /<svg[^>]*width="(\d+(?:\.\d+)?)"[^>]*height="(\d+(?:\.\d+)?)"/.exec(svg);
    return m ? [Number(m[1]), Number(m[2])] : [800, 600];
  };
  let y = 0;
  const parts = svgs.map((svg) => {
    const [, h] = size(svg);
    const part = svg.replace('<svg ', `<svg y="${y}" `);
    y += h!;
    return part;
  });
  const width = Math.max(...svgs.map((s) => size(s)[0]!));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">${parts.join('')}</svg>`;
}

/** The demo pair side by side: per layer, each model's mean ||c_i||^2 (the paper's
 * quantity; absolute, so the two models compare), the layers with the largest first. */
function printPair(runs: readonly { id: string; run: LayerwiseRun }[], transform: string): void {
  const [a, b] = runs as [{ id: string; run: LayerwiseRun }, { id: string; run: LayerwiseRun }];
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
  const e2e = (r: LayerwiseRun) => mean(r.images.map((_, i) => {
    let s = 0;
    for (let k = 0; k < r.classes; k++) s += Math.abs(r.lie[i * r.classes + k]!);
    return s / r.classes;
  }));
  console.log(`${transform}: mean |L p| ${a.id} ${e2e(a.run).toExponential(3)}, ${b.id} ${e2e(b.run).toExponential(3)} (${a.run.images.length} images)`);
  const rows = a.run.layers.map((l, i) => ({ l, x: mean(a.run.sqNorm[i]!), y: mean(b.run.sqNorm[i] ?? []) }));
  const top = [...rows].sort((p, q) => Math.max(q.x, q.y) - Math.max(p.x, p.y)).slice(0, 12);
  const width = Math.max(5, ...top.map((t) => t.l.name.length));
  const ca = a.id.replace(/^fmnist-/, '');
  const cb = b.id.replace(/^fmnist-/, '');
  console.log(`mean ||c_i||^2 per layer (the layers with the largest first; all ${rows.length} in --out):`);
  console.log(`${'layer'.padEnd(width)}  ${'type'.padEnd(16)}  ${ca.padStart(18)}  ${cb.padStart(18)}`);
  for (const t of top) console.log(`${t.l.name.padEnd(width)}  ${t.l.type.padEnd(16)}  ${t.x.toExponential(3).padStart(18)}  ${t.y.toExponential(3).padStart(18)}`);
}

function printSummary(run: LayerwiseRun): void {
  const shares = meanShares(run);
  const top = run.layers
    .map((l, i) => ({ l, share: shares[i]! }))
    .sort((a, b) => b.share - a.share)
    .slice(0, 10);
  const width = Math.max(5, ...top.map((t) => t.l.name.length));
  console.log(`${run.layers.length} layers, ${run.images.length} image(s), ${run.passes} forward passes, ${run.seconds.toFixed(1)} s`);
  console.log(`additivity residual (max over images): ${Math.max(...run.residual).toExponential(2)}`);
  console.log(`${'layer'.padEnd(width)}  ${'type'.padEnd(16)}  mean share`);
  for (const t of top) console.log(`${t.l.name.padEnd(width)}  ${t.l.type.padEnd(16)}  ${t.share.toFixed(4)}`);
}
