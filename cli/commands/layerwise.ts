import { LeeError } from '../../engine/errors.js';
import { init } from '../../engine/runtime.js';
import { encodeSafetensors } from '../../engine/safetensors.js';
import { disposeWeights } from '../../models/module.js';
import { DEFAULT_CHUNK, runLayerwise, type LayerwiseRun } from '../../lee/layerwise.js';
import { layerwiseCsv, layerwiseSvg, meanShares } from '../../lee/layerwise-report.js';
import { GENERATORS, parseGenerators } from '../../lee/transforms.js';
import { checkOutputs, writeOutput } from '../paths.js';
import { intFlag, parseCommand } from '../args.js';
import { INPUT_OPTIONS, interpFlag, loadModel, prepareInputs, DEFAULT_MODEL } from '../inputs.js';
import { progress } from '../progress.js';

/** SPEC 5.3: sum_i c_i must equal the end-to-end value to this, relative, in float32. */
export const ADDITIVITY_TOLERANCE = 1e-4;

export const layerwiseHelp = `lee layerwise [--model NAME] [--weights FILE.safetensors] [--images DIR|FILE ...]
        [--input FILE.safetensors] [--transform NAME] [--interp bilinear|bicubic]
        [--batch N] [--chunk N] [--out layers.csv] [--raw contrib.safetensors]
        [--plot layers.svg] [--heads N] [--quiet]

Exact, complete layerwise attribution of the Lie derivative of the softmax output
(SPEC 5.3): for every layer i (timm's leaf modules, timm's Attention as one, and the
non-equivariant operations outside modules: ViT's pos_embed, the Mixer's global_pool),
its contribution c_i = J_{>i} L f_i, computed with forward mode, no random probes. The
contributions sum to the end-to-end Lie derivative; the relative residual is checked
per image and any above ${ADDITIVITY_TOLERANCE} is flagged. Prints the layers with the largest share.

  --model      architecture (\`lee models\`); default ${DEFAULT_MODEL}
  --weights    timm state_dict as safetensors; without it a seeded, randomly
               initialised model runs (clearly not a trained one)
  --images     PNG/JPEG files or folders (the model's timm eval preprocessing);
               without --images/--input the bundled images run
  --input      safetensors with tensor 'images' [N, 3, H, W], already normalised
  --transform  one generator (default translate_x): ${GENERATORS.join(', ')}
  --interp     bilinear (default, the paper's) or bicubic
  --batch      images per pass (default 4)
  --chunk      layers carried per forward pass as tangent directions (default ${DEFAULT_CHUNK});
               more is fewer passes and more GPU memory
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
  const batch = intFlag(values.batch, 'batch', 4);
  const chunk = intFlag(values.chunk, 'chunk', DEFAULT_CHUNK);

  checkOutputs({ out: values.out, plot: values.plot, raw: values.raw });
  const { plan, source } = await prepareInputs('layerwise', values, f.positionals);
  await init();
  const model = loadModel(plan);
  let run: LayerwiseRun;
  try {
    run = await runLayerwise(model, source, { transform, interp, batch, chunk, onProgress: progress('layerwise', !!values.quiet, 'passes') });
  } finally {
    disposeWeights(model);
  }

  printSummary(run);
  const flagged = run.residual.map((r, b) => [r, b] as const).filter(([r]) => !(r < ADDITIVITY_TOLERANCE));
  if (flagged.length) {
    const list = flagged.map(([r, b]) => `${run.images[b]} ${r.toExponential(2)}`).join(', ');
    console.error(`warning: additivity residual above ${ADDITIVITY_TOLERANCE} (the contributions do not sum to the end-to-end value): ${list}`);
  }
  if (values.out) await writeOutput(values.out, layerwiseCsv(run, plan.name, transform));
  if (values.plot) await writeOutput(values.plot, layerwiseSvg(run, plan.name, transform));
  if (values.raw) {
    const n = run.images.length;
    const shape = [n, run.classes];
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
      logits: { shape, data: run.logits },
      probs: { shape, data: run.probs },
      [`lie.${transform}`]: { shape, data: run.lie },
    };
    run.layers.forEach((l, i) => (tensors[`contrib.${l.name}`] = { shape, data: run.contributions[i]! }));
    const layers = JSON.stringify(run.layers.map((l) => ({ name: l.name, type: l.type, order: l.order })));
    await writeOutput(values.raw, encodeSafetensors(tensors, { model: plan.name, transform, interp, layers, residual: JSON.stringify(run.residual) }));
  }
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
