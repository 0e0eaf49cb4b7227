import { LeeError } from '../engine/errors.js';
import { describeAdapter } from '../engine/device.js';
import { loadSafetensors, encodeSafetensors, type HostTensor } from '../engine/safetensors.js';
import type { Interp } from '../engine/ops/sample.js';
import { MODELS, modelSpec } from '../models/registry.js';
import { type LayerwiseRun } from '../lee/layerwise.js';
import { layerwiseCsv, layerwiseRaw, layerwiseSvg } from '../lee/layerwise-report.js';
import { e2eCsv, e2eRaw } from '../lee/report.js';
import { labelledSource, preprocessedSource, type LabelledSource, type Rgb } from '../lee/sources.js';
import { GENERATORS, type Generator } from '../lee/transforms.js';
import { DEMO_E2E_BATCH, E2E_BATCH, type ModelPlan } from '../lee/plan.js';
import { DEMO_MODELS } from './assets.js';
import { adapterLine, gpuBytes, openGpu } from './gpu.js';
import { DEFAULT_ENDPOINT } from './hub.js';
import { csvRows, download, e2eJson, type Finished } from './downloads.js';
import { fromDrop, fromInput, imageFiles, type Chosen } from './files.js';
import { decodeRgb } from './images.js';
import { defaultModels, fileModel, hubModel, type ModelSet } from './model.js';
import { runLayers, runModels, Resident, type ModelRun, type RunSettings } from './run.js';
import { renderResults } from './results.js';
import { h, megabytes, progressText } from './view.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

/** Images chosen by the user: decoded files (an ImageFolder tree labels them by
 * sub-folder), or a tensor already preprocessed; null for the bundled ones. */
type ImageChoice = { kind: 'files'; entries: { name: string; folder?: string; rgb: Rgb }[]; input: string[] } | { kind: 'tensor'; tensors: Map<string, HostTensor>; name: string };

const state = {
  set: null as ModelSet | null,
  images: null as ImageChoice | null,
  finished: null as Finished | null,
  layerwise: null as { plan: ModelPlan; run: LayerwiseRun; transform: Generator; interp: Interp } | null,
  busy: null as AbortController | null,
  adapter: null as ReturnType<typeof describeAdapter> | null,
};
const resident = new Resident();
const bundledPixels = new Map<string, Promise<Rgb>>();

// ---- errors and progress --------------------------------------------------------

function showError(e: unknown): void {
  const box = $('error');
  if (e instanceof DOMException && e.name === 'AbortError') {
    box.hidden = true;
    return;
  }
  const message = e instanceof LeeError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)} (the browser console has the details)`;
  if (!(e instanceof LeeError)) console.error(e);
  box.textContent = message;
  box.hidden = false;
}

function updateMemory(): void {
  const bytes = gpuBytes();
  const el = $('gpu-memory');
  el.dataset.bytes = String(bytes);
  el.textContent = `GPU memory in use: ${megabytes(bytes)}`;
}

function setProgress(fraction: number, text: string): void {
  $('progress').hidden = false;
  $<HTMLProgressElement>('progress-bar').value = fraction;
  $('progress-text').textContent = text;
}

/** Run one user action: errors shown as one message, the page busy meanwhile, Cancel
 * aborting it. */
async function act(fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  if (state.busy) return;
  const controller = new AbortController();
  state.busy = controller;
  document.body.dataset.busy = '1';
  $('error').hidden = true;
  // while it runs, only Cancel answers (a file chosen now would be dropped)
  const controls = () => document.querySelectorAll<HTMLButtonElement | HTMLInputElement>('main button, main input[type=file]');
  for (const c of controls()) c.disabled = c.id !== 'cancel';
  try {
    await fn(controller.signal);
  } catch (e) {
    showError(e);
    if (controller.signal.aborted) $('progress-text').textContent = 'cancelled';
  } finally {
    state.busy = null;
    for (const c of controls()) c.disabled = c.id === 'cancel';
    updateMemory();
    document.body.dataset.busy = '0';
  }
}

// ---- model ----------------------------------------------------------------------

/** Make `set` the page's model(s): onto the GPU, the previous ones freed first. */
function useModels(set: ModelSet): void {
  resident.release();
  state.set = null;
  state.finished = null;
  state.layerwise = null;
  $('results').hidden = true;
  $('layerwise-panel').hidden = true;
  resident.hold(set.plans);
  state.set = set;
  input('batch').value = String(set.demo ? DEMO_E2E_BATCH : E2E_BATCH);
  const p = set.plans[0]!;
  const pre = p.preprocess;
  const classes = set.demo ? `${p.classes.count} classes each` : `${p.classes.count} classes${p.classes.names ? ' (named)' : ''}`;
  $('model-status').textContent = `${set.title}; ${classes}; input ${pre.inputSize[1]} px (${pre.interpolation}, crop ${pre.cropPct}, ${pre.cropMode ?? 'center'})`;
  $('model-status').dataset.model = set.plans.map((x) => x.id).join(',');
  describeImages();
}

async function loadDefault(): Promise<void> {
  await act(async () => useModels(await defaultModels((t) => ($('model-status').textContent = `${t}...`))));
}

async function loadFile(): Promise<void> {
  await act(async () => {
    const weights = input('weights-file').files?.[0];
    if (!weights) throw new LeeError('choose a .safetensors weights file first');
    const heads = input('heads').value ? Number(input('heads').value) : undefined;
    if (heads !== undefined && !(Number.isInteger(heads) && heads >= 1)) throw new LeeError(`attention heads must be a positive integer, got ${input('heads').value}`);
    $('model-status').textContent = `reading ${weights.name}...`;
    useModels(await fileModel(weights, input('config-file').files?.[0], select('arch').value, heads));
  });
}

async function loadHub(): Promise<void> {
  await act(async (signal) => {
    const id = input('hub-id').value;
    if (!id.trim()) throw new LeeError('type a hub model id first, such as timm/resnet50.a1_in1k');
    const t0 = performance.now();
    $('model-status').textContent = `fetching ${id.trim()}...`;
    const set = await hubModel(id, {
      endpoint: input('hub-endpoint').value.trim() || DEFAULT_ENDPOINT,
      token: input('hub-token').value.trim() || undefined,
      signal,
      onProgress: (done, total) => {
        const s = (performance.now() - t0) / 1e3;
        setProgress(total ? done / total : 0, `downloading ${id.trim()}: ${megabytes(done)} / ${megabytes(total)}${s > 0 ? `, ${megabytes(done / s)}/s` : ''}`);
      },
    });
    if (set.cached) setProgress(1, `${id.trim()}: read from the browser cache, nothing downloaded`);
    useModels(set);
  });
}

// ---- images ---------------------------------------------------------------------

function describeImages(): void {
  const line = $('images-status');
  const set = state.set;
  const choice = state.images;
  if (!choice) {
    line.textContent = set ? `the ${set.bundled.length} bundled ${set.bundledAbout}` : '';
  } else if (choice.kind === 'files') {
    const names = choice.entries.map((e) => e.name);
    line.textContent = `${names.length} image${names.length > 1 ? 's' : ''}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''}`;
  } else {
    const t = choice.tensors.get('images');
    line.textContent = `${choice.name}: images [${t?.shape.join(', ') ?? '?'}], already preprocessed`;
  }
}

/** Decode chosen files at once, so one that does not decode says so now. A folder
 * holding only class sub-folders of images is an ImageFolder tree (`class/file`). */
async function chooseImages(chosen: Chosen[] | Promise<Chosen[]>): Promise<void> {
  await act(async () => {
    const list = await chosen;
    if (list.length === 0) return;
    const tensors = list.filter((c) => /\.safetensors$/i.test(c.file.name));
    if (tensors.length) {
      if (list.length > 1) throw new LeeError('give image files, or one .safetensors of preprocessed images, not both');
      const file = tensors[0]!.file;
      const t = (await loadSafetensors(file, { name: file.name })).tensors;
      preprocessedSource(t, file.name); // checks the tensor now
      state.images = { kind: 'tensor', tensors: t, name: file.name };
      describeImages();
      return;
    }
    const picked = imageFiles(list);
    const entries = [];
    for (const [i, p] of picked.entries()) {
      setProgress(i / picked.length, `decoding ${p.name}`);
      entries.push({ name: p.name, ...(p.folder !== undefined ? { folder: p.folder } : {}), rgb: await decodeRgb(p.file, p.name) });
    }
    setProgress(1, `decoded ${entries.length} image${entries.length > 1 ? 's' : ''}`);
    state.images = { kind: 'files', entries, input: picked.map((p) => p.name) };
    describeImages();
  });
}

function bundledRgb(url: string, name: string): Promise<Rgb> {
  let p = bundledPixels.get(url);
  if (!p) {
    p = fetch(url).then(async (r) => {
      if (!r.ok) throw new LeeError(`cannot load the bundled image ${name} (HTTP ${r.status})`);
      return decodeRgb(await r.blob(), name);
    });
    p.catch(() => bundledPixels.delete(url));
    bundledPixels.set(url, p);
  }
  return p;
}

/** The plans as they run on the chosen images: a random model runs the synthetic
 * bundled images at 64 px, anything else at its architecture's eval size (as the CLI). */
function runPlans(set: ModelSet): ModelPlan[] {
  return set.plans.map((p) => (p.random && state.images ? { ...p, preprocess: modelSpec(p.name).preprocess } : p));
}

/** Each plan's images, preprocessed with its own eval config. */
function sourcesFor(set: ModelSet, plans: readonly ModelPlan[]): { sources: LabelledSource[]; input: string | string[] } {
  const choice = state.images;
  if (choice?.kind === 'tensor') return { sources: set.plans.map(() => preprocessedSource(choice.tensors, choice.name)), input: choice.name };
  if (choice?.kind === 'files') {
    const decode = async (e: (typeof choice.entries)[number]) => e.rgb;
    return { sources: plans.map((p) => labelledSource(choice.entries, decode, p.preprocess, p.classes)), input: choice.input };
  }
  const decode = async (e: { name: string; url: string }) => bundledRgb(e.url, e.name);
  return { sources: plans.map((p) => labelledSource(set.bundled, decode, p.preprocess, p.classes)), input: set.bundledName };
}

// ---- runs -----------------------------------------------------------------------

function settings(): RunSettings {
  const batch = Number(input('batch').value);
  if (!Number.isInteger(batch) || batch < 1) throw new LeeError(`batch must be a positive integer, got ${input('batch').value}`);
  return { transforms: GENERATORS, interp: select('interp').value as Interp, batch };
}

async function run(): Promise<void> {
  await act(async (signal) => {
    const set = state.set;
    if (!set) throw new LeeError('load a model first');
    const s = settings();
    const plans = runPlans(set);
    const { sources, input: inputName } = sourcesFor(set, plans);
    const t0 = performance.now();
    const n = sources[0]!.names.length;
    const total = n * set.plans.length;
    const runs = await runModels(resident, plans, sources, s, signal, (m, done) => {
      const label = set.plans.length > 1 ? `e2e ${set.plans[m]!.id} (${m + 1}/${set.plans.length})` : `e2e ${set.plans[m]!.id}`;
      setProgress((m * n + done) / total, progressText(label, m * n + done, total, 'images', t0));
    });
    state.finished = { set, runs, sources, settings: s, input: inputName };
    state.layerwise = null;
    await renderResults(state.finished, 0);
    prepareLayerwise(runs);
    const seconds = (performance.now() - t0) / 1e3;
    setProgress(1, `done: ${total} image runs of ${set.plans.length} model${set.plans.length > 1 ? 's' : ''} in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(2)} images/s)`);
    $('results').dataset.seconds = String(seconds);
  });
}

function prepareLayerwise(runs: readonly ModelRun[]): void {
  const panel = $('layerwise-panel');
  panel.hidden = false;
  $('lw-chart').replaceChildren();
  $('lw-downloads').hidden = true;
  $('lw-status').textContent = '';
  const models = select('lw-model');
  models.replaceChildren(...runs.map((r, i) => h('option', { value: i }, r.plan.id)));
  $('lw-model-label').hidden = runs.length < 2;
  input('lw-images').value = String(Math.min(8, runs[0]!.result.images.length));
}

async function runLayerwise(): Promise<void> {
  await act(async (signal) => {
    const f = state.finished;
    if (!f) throw new LeeError('run the model first');
    const m = Number(select('lw-model').value || 0);
    const plan = f.runs[m]!.plan;
    const transform = select('lw-transform').value as Generator;
    const count = Number(input('lw-images').value);
    const all = f.sources[m]!;
    if (!Number.isInteger(count) || count < 1) throw new LeeError(`the number of images must be a positive integer, got ${input('lw-images').value}`);
    const k = Math.min(count, all.names.length);
    const source: LabelledSource = { ...all, names: all.names.slice(0, k), labels: all.labels.slice(0, k) };
    const t0 = performance.now();
    const lw = await runLayers(resident, plan, source, transform, { interp: f.settings.interp, batch: Math.min(4, f.settings.batch) }, signal, (done, total) =>
      setProgress(total ? done / total : 0, progressText(`layerwise ${plan.id}, ${transform}`, done, total, 'passes', t0)),
    );
    state.layerwise = { plan, run: lw, transform, interp: f.settings.interp };
    const chart = $('lw-chart');
    chart.innerHTML = layerwiseSvg(lw, plan.id, transform); // our own SVG, every text escaped
    chart.dataset.model = plan.id;
    chart.dataset.transform = transform;
    const worst = Math.max(...lw.residual);
    $('lw-status').textContent = `${lw.layers.length} layers, ${k} image${k > 1 ? 's' : ''}, ${lw.passes} forward passes, ${lw.seconds.toFixed(1)} s; additivity residual ${worst.toExponential(2)}${worst < 1e-4 ? '' : ' (above 1e-4: the contributions do not sum to the end-to-end value)'}`;
    $('lw-downloads').hidden = false;
    setProgress(1, `layerwise done in ${lw.seconds.toFixed(1)} s`);
  });
}

// ---- downloads ------------------------------------------------------------------

function finished(): Finished {
  if (!state.finished) throw new LeeError('run the model first');
  return state.finished;
}

/** The chosen images preprocessed for the (first) model, as `--input` reads them. */
async function inputsFile(): Promise<Uint8Array<ArrayBuffer>> {
  const set = state.set;
  if (!set) throw new LeeError('load a model first: the preprocessing is the model\'s');
  const plans = runPlans(set);
  const src = sourcesFor(set, plans).sources[0]!;
  const [hh, ww] = src.size;
  const n = src.names.length;
  return encodeSafetensors({ images: { shape: [n, 3, hh, ww], data: await src.load(0, n) } }, { model: plans[0]!.id, images: JSON.stringify(src.names) });
}

function layerwiseDone() {
  if (!state.layerwise) throw new LeeError('run layerwise first');
  return state.layerwise;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

function wireDownloads(): void {
  const guard = (fn: () => void | Promise<void>) => () => {
    Promise.resolve()
      .then(fn)
      .catch(showError);
  };
  const base = () => safe(finished().runs.length > 1 ? 'lee-demo' : finished().runs[0]!.plan.id);
  $('dl-csv').onclick = guard(() => download(`${base()}.e2e.csv`, e2eCsv(csvRows(finished().runs)), 'text/csv'));
  $('dl-json').onclick = guard(() => download(`${base()}.e2e.json`, e2eJson(finished(), state.adapter), 'application/json'));
  $('dl-raw').onclick = guard(() => {
    const f = finished();
    download(`${base()}.e2e.safetensors`, e2eRaw(f.runs.map((r) => ({ model: r.plan.id, result: r.result })), f.settings.interp, f.set.demo), 'application/octet-stream');
  });
  $('dl-inputs').onclick = () => void act(async () => download(`${safe(state.set?.plans[0]?.id ?? 'lee')}.inputs.safetensors`, await inputsFile(), 'application/octet-stream'));
  const lwBase = () => `${safe(layerwiseDone().plan.id)}.${layerwiseDone().transform}`;
  $('dl-lw-csv').onclick = guard(() => download(`${lwBase()}.layers.csv`, layerwiseCsv(layerwiseDone().run, layerwiseDone().plan.id, layerwiseDone().transform), 'text/csv'));
  $('dl-lw-svg').onclick = guard(() => download(`${lwBase()}.layers.svg`, layerwiseSvg(layerwiseDone().run, layerwiseDone().plan.id, layerwiseDone().transform), 'image/svg+xml'));
  $('dl-lw-raw').onclick = guard(() => {
    const l = layerwiseDone();
    download(`${lwBase()}.layers.safetensors`, layerwiseRaw([{ model: l.plan.id, run: l.run }], l.transform, l.interp, false), 'application/octet-stream');
  });
}

// ---- wiring ---------------------------------------------------------------------

function dropZone(zone: HTMLElement, onDrop: (data: DataTransfer) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer) onDrop(e.dataTransfer);
  });
}

function showPane(source: string): void {
  for (const pane of document.querySelectorAll<HTMLElement>('[data-pane]')) pane.hidden = pane.dataset.pane !== source;
}

function wire(): void {
  select('arch').append(...MODELS.map((m) => h('option', { value: m.name }, m.name)));
  select('lw-transform').append(...GENERATORS.map((g) => h('option', { value: g }, g)));
  const params = new URLSearchParams(location.search);
  input('hub-endpoint').value = params.get('hub') ?? DEFAULT_ENDPOINT;
  if (params.get('model')) input('hub-id').value = params.get('model')!;
  $('default-about').textContent = DEMO_MODELS.length
    ? `The bundled demo models (${DEMO_MODELS.map((m) => m.id).join(', ')}): small timm models trained on Fashion-MNIST, each family once on the images as they are and once with random shifts and rotations, on the bundled test images (what "lee e2e" runs without arguments).`
    : 'A seeded, randomly initialised resnet18 (not a trained model) on four synthetic images at 64 px (what "lee e2e --model resnet18" runs).';
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name=source]')) r.onchange = () => showPane(r.value);
  $('load-default').onclick = () => void loadDefault();
  $('load-file').onclick = () => void loadFile();
  $('load-hub').onclick = () => void loadHub();
  input('hub-id').onkeydown = (e) => {
    if (e.key === 'Enter') void loadHub();
  };
  dropZone($('model-drop'), (data) => {
    const files = [...data.files];
    const dt = (accept: (f: File) => boolean) => {
      const t = new DataTransfer();
      for (const f of files.filter(accept)) t.items.add(f);
      return t.files;
    };
    const weights = dt((f) => /\.safetensors$/i.test(f.name));
    const config = dt((f) => /\.json$/i.test(f.name));
    if (weights.length) input('weights-file').files = weights;
    if (config.length) input('config-file').files = config;
    if (!weights.length && !config.length) showError(new LeeError(`drop a .safetensors (and its config.json), not ${files.map((f) => f.name).join(', ')}`));
    else if (weights.length) void loadFile();
  });
  // a drop's entries must be taken before the event returns
  dropZone($('image-drop'), (data) => void chooseImages(fromDrop(data)));
  input('image-files').onchange = () => void chooseImages(fromInput(input('image-files').files));
  input('image-folder').onchange = () => void chooseImages(fromInput(input('image-folder').files));
  $('use-bundled').onclick = () => {
    state.images = null;
    describeImages();
  };
  $('run').onclick = () => void run();
  $('cancel').onclick = () => state.busy?.abort(new DOMException('cancelled', 'AbortError'));
  $('run-layerwise').onclick = () => void runLayerwise();
  select('result-model').onchange = () => {
    if (state.finished) void act(async () => renderResults(state.finished!, Number(select('result-model').value)));
  };
  wireDownloads();
}

async function start(): Promise<void> {
  wire();
  try {
    const rt = await openGpu();
    state.adapter = describeAdapter(rt.adapter);
    $('adapter').textContent = `WebGPU: ${adapterLine(rt)}.`;
  } catch (e) {
    $('adapter').textContent = 'no WebGPU.';
    showError(e);
    for (const b of document.querySelectorAll<HTMLButtonElement>('main button')) b.disabled = true;
    document.body.dataset.busy = '0';
    document.body.dataset.ready = 'no-gpu';
    return;
  }
  document.body.dataset.busy = '0';
  await loadDefault();
  // ?model=org/name opens a hub model (a link that shares one)
  if (new URLSearchParams(location.search).get('model')) {
    document.querySelector<HTMLInputElement>('input[name=source][value=hub]')!.checked = true;
    showPane('hub');
    await loadHub();
  }
  document.body.dataset.ready = '1';
}

void start();
