import { mkdirSync, statSync, accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LeeError } from '../../engine/errors.js';
import { init, type Runtime } from '../../engine/runtime.js';
import { disposeWeights } from '../../models/module.js';
import { modelSpec, parameterCount } from '../../models/registry.js';
import { runLayerwise } from '../../lee/layerwise.js';
import { layerwiseCsv } from '../../lee/layerwise-report.js';
import { parseLabels } from '../../lee/labels.js';
import { labelledAccuracy } from '../../lee/report.js';
import { parseGenerators, type Generator } from '../../lee/transforms.js';
import { VERSION } from '../../index.js';
import { intFlag, parseCommand } from '../args.js';
import { resolveModel } from '../checkpoint.js';
import { runJson, runModelE2E, runsCsv, settingsJson, type E2ESettings } from '../e2e-model.js';
import { listImages, type ImageEntry } from '../images.js';
import { checkImages, imageSource, interpFlag, loadModel, planModel, DEFAULT_MODEL, type RunInputs } from '../inputs.js';
import { progress } from '../progress.js';
import { demoImages } from '../paths.js';
import { ADDITIVITY_TOLERANCE } from './layerwise.js';
import { readModelList, NAMED_LISTS, type SweepEntry } from '../sweep/list.js';
import { imagesHash, isComplete, modelFiles, removePartial, sha256, weightsFingerprint, writeAtomic, type SweepSettings } from '../sweep/outputs.js';
import { k8sManifest, slurmScript } from '../sweep/schedulers.js';
import { drawSubset, resolveShard, shardOf } from '../sweep/shard.js';

export const sweepHelp = `lee sweep --models LIST|${NAMED_LISTS.join('|')} --images DIR|FILE ... [--out DIR] [--labels FILE]
        [--transforms all|a,b,...] [--interp bilinear|bicubic] [--batch N]
        [--layerwise GEN,...] [--chunk N] [--limit N] [--seed S] [--sample-metrics] [--samples N]
        [--shard i/n | --shards N] [--print-slurm [--sbatch OPTION ...] | --print-k8s IMAGE] [--quiet]

A study: every model of a list on the same images, one model at a time, each model's
outputs in DIR as \`lee e2e --out\` / \`--json\` (and \`lee layerwise --out\`) write them
for that model. Resumable: every file is written under a temporary name and renamed when
whole, the JSON last, recording the settings and the other files' SHA-256; a rerun skips
models whose outputs are complete and were made with the same settings, and redoes the
rest, so a killed run loses at most the model in progress. \`lee summary DIR\` merges the
outputs and draws the paper's figures.

  --models     a file, one model a line (# comments): a checkpoint folder (config.json +
               model.safetensors; relative to the list's folder), a hub id
               (timm/resnet50.a1_in1k, as lee e2e --model) or an architecture (random
               weights); or a named list: core (the paper's 83 core models as timm's hub
               ids; those lee-gpu does not support yet are listed and left out), demo
               (the bundled Fashion-MNIST models)
  --images     PNG/JPEG files or folders; an ImageFolder tree labels them (top-1 acc).
               For --models demo, the bundled Fashion-MNIST test images by default
  --out        the output folder (default lee-sweep), per model <name>.csv, <name>.json
               and <name>.layerwise.<gen>.csv; <name> is a checkpoint folder's name, a timm
               hub id's model name (org--name for other orgs), a core model's paper name
  --labels     class names, one per line, for ImageFolder folders
  --transforms generators of the e2e CSV (default all)
  --interp     bilinear (default) or bicubic
  --batch      images per pass (default 8 for e2e, 4 for layerwise)
  --layerwise  also each model's layerwise attribution for these generators
  --chunk      at most N layers per layerwise pass (default: as many as fit)
  --limit      run N of the images, drawn with --seed, kept in their listed order
  --seed       seed of --limit's draw and the sample-based metrics (default 0)
  --sample-metrics, --samples N
               the sample-based metrics too, as lee e2e
  --shard i/n  run models i, i+n, i+2n, ... of the list (0 <= i < n). Without it a Slurm
               array task (SLURM_ARRAY_TASK_ID, with SLURM_ARRAY_TASK_COUNT or --shards) or
               a Kubernetes Indexed Job pod (JOB_COMPLETION_INDEX with --shards) picks its
               shard. Shards never write the same file
  --shards N   the number of shards (scheduler tasks); default for --print-*: one per model
  --print-slurm
               print an sbatch script for the sweep as a job array of --shards tasks
               (creates --out, where the tasks' logs go)
  --sbatch     an #SBATCH option for --print-slurm (repeatable): --sbatch=--gres=gpu:1
  --print-k8s IMAGE
               print a Kubernetes Indexed Job manifest running the sweep in IMAGE
  --quiet      no per-model progress lines`;

const OPTIONS = {
  models: { type: 'string' },
  images: { type: 'string', multiple: true },
  out: { type: 'string' },
  labels: { type: 'string' },
  transforms: { type: 'string' },
  interp: { type: 'string' },
  batch: { type: 'string' },
  layerwise: { type: 'string' },
  chunk: { type: 'string' },
  limit: { type: 'string' },
  seed: { type: 'string' },
  'sample-metrics': { type: 'boolean' },
  samples: { type: 'string' },
  shard: { type: 'string' },
  shards: { type: 'string' },
  'print-slurm': { type: 'boolean' },
  sbatch: { type: 'string', multiple: true },
  'print-k8s': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** The flags a scheduler's task repeats (the shard comes from the scheduler). */
const PASSED = ['labels', 'transforms', 'interp', 'batch', 'layerwise', 'chunk', 'limit', 'seed', 'sample-metrics', 'samples', 'quiet'] as const;

export async function sweep(argv: string[]): Promise<void> {
  const f = parseCommand(argv, OPTIONS, 'sweep');
  const v = f.values;
  if (!v.models) throw new LeeError(`--models is required: a list file (one model a line) or a named list (${NAMED_LISTS.join(', ')})`);
  if (f.positionals.length && !v.images) throw new LeeError(`sweep: unexpected argument '${f.positionals[0]}' (image paths go after --images)`);
  const given = [...(v.images ?? []), ...f.positionals];
  // the demo models come with their test images
  const images = given.length || v.models !== 'demo' ? given : [demoImages()];
  if (!images.length) throw new LeeError('--images is required: the image files or folders every model runs on');
  const interp = interpFlag(v.interp);
  const transforms = parseGenerators(v.transforms ?? 'all');
  const layerwiseGens = v.layerwise ? parseGenerators(v.layerwise) : [];
  const batch = intFlag(v.batch, 'batch', 8);
  const layerBatch = intFlag(v.batch, 'batch', 4);
  const chunk = v.chunk === undefined ? undefined : intFlag(v.chunk, 'chunk', 1);
  const limit = v.limit === undefined ? undefined : intFlag(v.limit, 'limit', 1);
  const seed = intFlag(v.seed, 'seed', 0, 0);
  if (seed >= 2 ** 32) throw new LeeError(`--seed must be below 2^32, got ${seed}`);
  const samples = v.samples === undefined ? undefined : intFlag(v.samples, 'samples', 1);
  const shards = v.shards === undefined ? undefined : intFlag(v.shards, 'shards', 1);
  const out = v.out ?? 'lee-sweep';
  if (v['print-slurm'] && v['print-k8s'] !== undefined) throw new LeeError('give --print-slurm or --print-k8s, not both');
  if (v.sbatch && !v['print-slurm']) throw new LeeError('--sbatch adds options to the --print-slurm script; give --print-slurm too');

  const list = await readModelList(v.models);
  if (list.unsupported.length) {
    console.error(`note: ${list.unsupported.length} of ${list.entries.length + list.unsupported.length} ${list.source} models are not supported by lee-gpu yet and are left out: ${list.unsupported.map((e) => e.name).join(', ')}`);
  }
  if (!list.entries.length) throw new LeeError(`${list.source}: none of its models is supported by lee-gpu yet`);

  if (v['print-slurm'] || v['print-k8s'] !== undefined) {
    const tasks = shards ?? list.entries.length;
    if (v['print-slurm']) {
      // the tasks see this file system: fail now on images they would not find
      await listImages(images);
      const abs = (p: string) => resolve(p);
      const listArg = NAMED_LISTS.includes(v.models) && !isFile(v.models) ? v.models : abs(v.models);
      const args = sweepArgs(v, { models: listArg, images: images.map(abs), out: abs(out), labels: v.labels && abs(v.labels) }, tasks);
      mkdirSync(out, { recursive: true });
      const lee = fileURLToPath(new URL('../lee.js', import.meta.url));
      process.stdout.write(slurmScript({ tasks, cwd: process.cwd(), command: [process.execPath, lee, ...args], logDir: abs(out), sbatch: v.sbatch ?? [] }));
    } else {
      const args = sweepArgs(v, { models: v.models, images, out, labels: v.labels }, tasks);
      process.stdout.write(k8sManifest({ image: v['print-k8s']!, tasks, command: ['lee', ...args] }));
    }
    return;
  }

  const shard = resolveShard(v.shard, shards, process.env);
  const mine = shardOf(list.entries, shard);
  const labelsText = v.labels ? await readText(v.labels) : undefined;
  const labels = labelsText === undefined ? undefined : parseLabels(labelsText, v.labels!);
  const entries = drawSubset(await listImages(images), limit, seed);
  await checkImages(entries);
  mkdirSync(out, { recursive: true });
  checkWritable(out);
  const imageId = await imagesHash(entries, labelsText);
  const s: E2ESettings = { transforms, interp, batch, ...(v['sample-metrics'] ? { sampleMetrics: { seed, samples } } : {}) };

  const jobs: Job[] = [];
  let skipped = 0;
  for (const e of mine) {
    const settings: SweepSettings = {
      engine: VERSION,
      entry: e.spec,
      weights: await weightsFingerprint(e),
      transforms,
      interp,
      images: imageId,
      layerwise: layerwiseGens,
      ...(s.sampleMetrics ? { sample_metrics: s.sampleMetrics } : {}),
    };
    const files = modelFiles(out, e.name, layerwiseGens);
    if (await isComplete(files, settings)) skipped++;
    else jobs.push({ entry: e, settings, files });
  }
  const where = shard.count > 1 ? `shard ${shard.index}/${shard.count} (${shard.from})` : 'unsharded';
  const say = (line: string) => void (v.quiet || console.error(line));
  say(`sweep: ${where}: ${mine.length} of ${list.entries.length} models, ${skipped} complete, ${jobs.length} to run on ${entries.length} images -> ${out}`);
  if (!jobs.length) return;

  const rt = await init();
  const t0 = performance.now();
  const failed: string[] = [];
  let ran = 0;
  for (const [k, job] of jobs.entries()) {
    const started = performance.now();
    try {
      await removePartial(out, job.files);
      const run = await prepare(job.entry, entries, labels, images);
      const lines = await runJob(rt, run, job, s, { layerBatch, chunk, interp, quiet: !!v.quiet, shard: `${shard.index}/${shard.count}` });
      ran++;
      const took = (performance.now() - started) / 1e3;
      const eta = ((performance.now() - t0) / 1e3 / (k + 1)) * (jobs.length - k - 1);
      say(`sweep: ${k + 1}/${jobs.length} ${job.entry.name}: ${run.source.names.length} images, ${took.toFixed(1)} s${lines.acc}; shard ETA ${duration(eta)}`);
      for (const w of lines.warnings) console.error(`warning: ${job.entry.name}: ${w}`);
    } catch (e) {
      if (!(e instanceof LeeError)) throw e;
      failed.push(job.entry.name);
      console.error(`error: ${job.entry.name} (${job.entry.spec}): ${e.message}`);
    }
  }
  say(`sweep: ${where}: ${ran} run, ${skipped} already complete, ${failed.length} failed, ${duration((performance.now() - t0) / 1e3)}`);
  if (failed.length) throw new LeeError(`${failed.length} model(s) failed: ${failed.join(', ')} (rerun to retry them; complete models are kept)`);
}

interface Job {
  entry: SweepEntry;
  settings: SweepSettings;
  files: ReturnType<typeof modelFiles>;
}

/** A model's run, checked on the host: its checkpoint resolved (a hub id downloaded into
 * the cache) and the images preprocessed its way. */
async function prepare(e: SweepEntry, entries: readonly (ImageEntry & { path: string })[], labels: readonly string[] | undefined, given: string[]): Promise<RunInputs> {
  const resolved = await resolveModel(e.model, e.weights, DEFAULT_MODEL, true);
  const plan = await planModel(resolved);
  const source = await imageSource(entries, plan.preprocess, plan.classes, labels);
  return { plan, source, input: given };
}

/** Run one model (e2e, then each layerwise generator) and write its files, the JSON
 * last. Returns what its progress line and warnings say. */
async function runJob(
  rt: Runtime,
  run: RunInputs,
  job: Job,
  s: E2ESettings,
  o: { layerBatch: number; chunk: number | undefined; interp: E2ESettings['interp']; quiet: boolean; shard: string },
): Promise<{ acc: string; warnings: string[] }> {
  const tty = !o.quiet && (process.stderr.isTTY || process.env.LEE_STDERR_TTY === '1');
  const name = job.entry.name;
  const t0 = performance.now();
  const done = await runModelE2E(run, s, `sweep ${name}`, !tty);
  const csv = runsCsv([done]);
  const outputs: Record<string, string> = { [basename(job.files.csv)]: sha256(csv) };
  const layerwise: Record<string, { file: string; layers: number; residual_max: number }> = {};
  const warnings: string[] = [];
  const texts = new Map<Generator, string>();
  for (const [g, file] of job.files.layerwise) {
    const model = loadModel(run.plan);
    try {
      const lw = await runLayerwise(model, run.source, { transform: g, interp: o.interp, batch: o.layerBatch, chunk: o.chunk, onProgress: progress(`sweep ${name} layerwise ${g}`, !tty, 'passes') });
      const text = layerwiseCsv(lw, run.plan.id, g);
      texts.set(g, text);
      outputs[basename(file)] = sha256(text);
      const worst = Math.max(...lw.residual);
      layerwise[g] = { file: basename(file), layers: lw.layers.length, residual_max: worst };
      if (!(worst < ADDITIVITY_TOLERANCE)) warnings.push(`${g}: additivity residual ${worst.toExponential(2)} above ${ADDITIVITY_TOLERANCE}`);
    } finally {
      disposeWeights(model);
    }
  }
  const record = {
    name,
    entry: job.entry.spec,
    family: modelSpec(run.plan.name).family,
    parameters: parameterCount(run.plan.model),
    settings: job.settings,
    outputs,
    layerwise,
    run: { shard: o.shard, host: hostname(), pid: process.pid, seconds: (performance.now() - t0) / 1e3, finished: new Date().toISOString() },
  };
  const json = JSON.stringify({ ...runJson(done, s), ...settingsJson(rt, s), sweep: record }, null, 2);
  await writeAtomic(job.files.csv, csv);
  for (const [g, text] of texts) await writeAtomic(job.files.layerwise.get(g)!, text);
  await writeAtomic(job.files.json, json);
  const acc = labelledAccuracy(done.predictions);
  return { acc: acc ? `, top-1 ${((100 * acc.correct) / acc.labelled).toFixed(1)}%` : '', warnings };
}

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The sweep's own flags for a scheduler's task, paths as `paths` gives them. */
function sweepArgs(v: Record<string, unknown>, paths: { models: string; images: string[]; out: string; labels?: string }, tasks: number): string[] {
  const args = ['sweep', '--models', paths.models, ...paths.images.flatMap((p) => ['--images', p]), '--out', paths.out];
  for (const k of PASSED) {
    const x = k === 'labels' ? paths.labels : v[k];
    if (x === true) args.push(`--${k}`);
    else if (typeof x === 'string') args.push(`--${k}`, x);
  }
  return [...args, '--shards', String(tasks)];
}

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

function checkWritable(dir: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new LeeError(`--out ${dir} is not writable`);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new LeeError(`cannot read ${path}: no such file`);
  }
}

function duration(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
