import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { encodeSafetensors, parseSafetensors } from '../engine/safetensors.js';
import { listImages, loadImage } from '../cli/images.js';
import { modelSpec } from '../models/registry.js';
import { GENERATORS, COLUMN } from '../lee/transforms.js';
import { E2E_BATCH } from '../lee/plan.js';
import { Rng } from './helpers/random.js';
import { CHROMIUM, launchChromium, type Browser } from './browser/chromium.js';
import { fixtureCommit, startHubServer, type HubServer } from './helpers/hub-server.js';
import { buildAndServe, type Site } from './web/site.js';
import { act, download, dropFiles, errorText, expectRel, expectSameCsv, gpuBytes, idle, lee, parseCsv, tableNumbers } from './web/page.js';

// The web app, built as `npm run build:web` builds it (minified), served by a plain
// static server and driven in headless Chromium on WebGPU (SwiftShader): the same
// numbers as the CLI and as PyTorch, through the page's real controls.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures');
const OUT = join(ROOT, 'test/browser/out');
const HUB_REPO = join(FIX, 'hub/timm/resnet18.lee_mini');
const tmp = mkdtempSync(join(tmpdir(), 'lee-web-test-'));
/** the page's embedded default is the demo when the site ships its models (web/assets.ts) */
const DEMO = existsSync(join(ROOT, 'assets/demo')) && readdirSync(join(ROOT, 'assets/demo')).some((d) => existsSync(join(ROOT, 'assets/demo', d, 'model.safetensors')));
const SAME = 1e-4;

let site: Site;
let hub: HubServer;
let browser: Browser;
let nodeDefault: ReturnType<typeof lee>;
let nodeLayers: ReturnType<typeof lee>;
const timings: Record<string, number> = {};

const page = () => browser.page;
const log = () => (browser?.log.length ? `\n${browser.log.slice(-20).join('\n')}` : '');
const tensors = (bytes: Uint8Array) => parseSafetensors(bytes).tensors;

async function noError(): Promise<void> {
  expect(await errorText(page()), log()).toBe('');
}

async function chooseSource(value: 'default' | 'file' | 'hub'): Promise<void> {
  await page().check(`input[name=source][value=${value}]`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install chromium (apt-get install chromium)`);
  if (!existsSync(join(ROOT, 'dist/cli/lee.js'))) throw new Error('dist/cli/lee.js is missing: npm run build');
  mkdirSync(OUT, { recursive: true });
  // the CLI's runs go on while the browser works
  nodeDefault = lee(ROOT, ['e2e', ...(DEMO ? [] : ['--model', 'resnet18']), '--out', join(tmp, 'default.csv'), '--json', join(tmp, 'default.json'), '--quiet']);
  nodeLayers = lee(ROOT, ['layerwise', '--weights', HUB_REPO, '--images', 'assets/images', '--transform', 'rotate', '--raw', join(tmp, 'layers.safetensors'), '--out', join(tmp, 'layers.csv'), '--quiet']);
  const t0 = performance.now();
  site = await buildAndServe();
  timings.build_s = (performance.now() - t0) / 1e3;
  hub = await startHubServer(join(FIX, 'hub'));
  browser = await launchChromium();
  await page().goto(`${site.url}?hub=${encodeURIComponent(hub.url)}`);
  await page().waitForSelector('body[data-ready]', { timeout: 300_000 });
  expect(await page().getAttribute('body', 'data-ready'), `${await errorText(page())}${log()}`).toBe('1');
});

afterAll(async () => {
  console.log(`web app timings: ${JSON.stringify(timings)}`);
  await browser?.close();
  await hub?.close();
  await site?.close();
});

describe('the web app (minified build, headless Chromium, WebGPU)', () => {
  let defaultBytes = 0;

  it('runs the embedded default: every number in its tables and its CSV and JSON are those of lee e2e', async () => {
    await noError();
    defaultBytes = await gpuBytes(page());
    expect(defaultBytes, 'the default model(s) on the GPU').toBeGreaterThan(0);
    const t0 = performance.now();
    await act(page(), '#run');
    timings.default_browser_s = Number(await page().getAttribute('#results', 'data-seconds'));
    timings.default_browser_wall_s = (performance.now() - t0) / 1e3;
    await noError();
    expect(await gpuBytes(page()), 'GPU memory after the run').toBe(defaultBytes);
    await page().screenshot({ path: join(OUT, 'web.png'), fullPage: true });

    const node = await nodeDefault;
    timings.default_node_s = node.seconds;
    expect(node.code, node.stderr).toBe(0);
    const csv = readFileSync(join(tmp, 'default.csv'), 'utf8');
    const { header, rows } = parseCsv(csv);
    const col = (name: string) => header.indexOf(name);
    const models = [...new Set(rows.map((r) => r[col('model')]!))];
    for (const [m, model] of models.entries()) {
      if (models.length > 1) {
        await page().selectOption('#result-model', String(m));
        await idle(page());
      }
      const table = await tableNumbers(page(), '#image-table', 'image');
      const mine = rows.filter((r) => r[col('model')] === model);
      expect([...table.keys()]).toEqual(mine.map((r) => r[col('image')]));
      for (const r of mine) {
        for (const g of GENERATORS) expectRel(table.get(r[col('image')]!)!.get(COLUMN[g])!, Number(r[col(COLUMN[g])]), SAME, `${model} ${r[0]} ${g}`);
      }
    }
    const json = JSON.parse(readFileSync(join(tmp, 'default.json'), 'utf8'));
    if (models.length > 1) {
      const summary = await tableNumbers(page(), '#summary-table', 'model');
      for (const m of json.models) for (const g of GENERATORS) expectRel(summary.get(m.model)!.get(COLUMN[g])!, m.mean_abs[COLUMN[g]], SAME, `${m.model} mean ${g}`);
    }
    expectSameCsv((await download(page(), '#dl-csv')).toString('utf8'), csv, SAME, 'CSV, page vs lee e2e --out');
    const pageJson = JSON.parse((await download(page(), '#dl-json')).toString('utf8'));
    expectSameJson(pageJson, json);
  }, 600_000);

  it('preprocesses PNG and JPEG files as the CLI does, and ignores EXIF orientation as PIL does', async () => {
    // the fixture checkpoint with config.json's preprocessing made resnet18's own (224 px, bicubic)
    const config = JSON.parse(readFileSync(join(HUB_REPO, 'config.json'), 'utf8'));
    const pre = modelSpec('resnet18').preprocess;
    Object.assign(config.pretrained_cfg, { input_size: pre.inputSize, crop_pct: pre.cropPct, interpolation: pre.interpolation, mean: pre.mean, std: pre.std });
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config));
    await chooseSource('file');
    await page().setInputFiles('#weights-file', join(HUB_REPO, 'model.safetensors'));
    await page().setInputFiles('#config-file', join(tmp, 'config.json'));
    await act(page(), '#load-file');
    await noError();
    const photos = ['chelsea.png', 'rocket.jpg'].map((f) => join(ROOT, 'assets/photos', f));
    const rocket = readFileSync(photos[1]!);
    const plain = await sharp(rocket).jpeg({ quality: 92 }).toBuffer();
    const turned = await Promise.all([2, 3, 4, 5, 6, 7, 8].map((o) => sharp(rocket).jpeg({ quality: 92 }).withMetadata({ orientation: o }).toBuffer()));
    expect(turned.map((b) => b.length)).not.toContain(plain.length - 1); // each carries its tag
    // see-through pixels keep their colour (PIL and sharp drop alpha, they do not composite)
    const rgba = Array.from(new Rng(7).uniforms(61 * 47 * 4, 0, 256), Math.floor);
    const alpha = await sharp(Buffer.from(rgba), { raw: { width: 61, height: 47, channels: 4 } }).png().toBuffer();
    const grey = await sharp(readFileSync(photos[0]!)).greyscale().png().toBuffer();
    writeFileSync(join(tmp, 'alpha.png'), alpha);
    writeFileSync(join(tmp, 'grey.png'), grey);
    const more = [join(tmp, 'alpha.png'), join(tmp, 'grey.png')];
    const files = [
      ...photos.map((p) => ({ name: p.split('/').pop()!, mimeType: p.endsWith('.png') ? 'image/png' : 'image/jpeg', buffer: readFileSync(p) })),
      { name: 'rocket-o1.jpg', mimeType: 'image/jpeg', buffer: plain },
      ...turned.map((b, i) => ({ name: `rocket-o${i + 2}.jpg`, mimeType: 'image/jpeg', buffer: b })),
      ...more.map((p) => ({ name: p.split('/').pop()!, mimeType: 'image/png', buffer: readFileSync(p) })),
    ];
    await page().setInputFiles('#image-files', files);
    await idle(page());
    await noError();
    const t = tensors(await download(page(), '#dl-inputs')).get('images')!;
    expect(t.shape).toEqual([files.length, 3, 224, 224]);
    const per = 3 * 224 * 224;
    const levels = (a: Float32Array, b: Float32Array) => {
      let max = 0;
      let differ = 0;
      for (let i = 0; i < per; i++) {
        const d = Math.abs(a[i]! - b[i]!) * pre.std[Math.floor(i / (224 * 224))]! * 255;
        max = Math.max(max, d);
        if (d > 1e-3) differ++;
      }
      return { max, differ: differ / per };
    };
    const node = await Promise.all(photos.map((p) => loadImage(p, pre)));
    const png = levels(t.data.subarray(0, per), node[0]!);
    const jpeg = levels(t.data.subarray(per, 2 * per), node[1]!);
    console.log(`preprocessing, browser vs Node (sharp), in 8-bit levels: PNG max ${png.max.toExponential(2)}; JPEG max ${jpeg.max.toFixed(3)}, ${(100 * jpeg.differ).toFixed(2)}% of values differ`);
    expect(png.max, 'PNG: the same pixels, the same resampling').toBeLessThan(1e-3 * 255 * 0.225);
    // the two JPEG decoders (libjpeg-turbo in both) may round an IDCT differently
    expect(jpeg.max, 'JPEG').toBeLessThan(2);
    for (const [i, p] of more.entries()) {
      const k = files.length - more.length + i;
      expect(levels(t.data.subarray(k * per, (k + 1) * per), await loadImage(p, pre)).max, files[k]!.name).toBeLessThan(1e-3 * 255 * 0.225);
    }
    const o1 = t.data.subarray(2 * per, 3 * per);
    for (let k = 3; k < files.length - more.length; k++) {
      expect(levels(t.data.subarray(k * per, (k + 1) * per), o1).max, `${files[k]!.name}: EXIF orientation ${k - 1} ignored`).toBe(0);
    }
  });

  let miniBytes = 0;
  it('reads a chosen folder as the CLI reads it: class sub-folders, names class/file, in its order', async () => {
    const tree = join(tmp, 'tree');
    for (const [cls, files] of [['1', ['stripes', 'disc']], ['0', ['checker', 'arrow']]] as const) {
      mkdirSync(join(tree, cls), { recursive: true });
      for (const f of files) writeFileSync(join(tree, cls, `${f}.png`), readFileSync(join(ROOT, 'assets/images', `${f}.png`)));
    }
    writeFileSync(join(tree, '0', 'notes.txt'), 'not an image');
    await page().setInputFiles('#image-folder', tree);
    await idle(page());
    await noError();
    const names = JSON.parse(parseSafetensors(await download(page(), '#dl-inputs')).metadata.images!);
    expect(names).toEqual((await listImages([tree])).map((e) => e.name));
  });

  it('loads a fixture checkpoint and images through the file inputs and reproduces PyTorch (1e-3)', async () => {
    await chooseSource('file');
    await page().setInputFiles('#weights-file', join(HUB_REPO, 'model.safetensors'));
    await page().setInputFiles('#config-file', join(HUB_REPO, 'config.json'));
    await act(page(), '#load-file');
    await noError();
    expect(await page().getAttribute('#model-status', 'data-model')).toBe('resnet18.lee_mini');
    miniBytes = await gpuBytes(page());
    expect(miniBytes).toBeGreaterThan(0);
    const images = ['arrow', 'checker', 'disc', 'stripes'].map((n) => join(ROOT, 'assets/images', `${n}.png`));
    await page().setInputFiles('#image-files', images);
    await idle(page());
    const io = tensors(readFileSync(join(FIX, 'hub/resnet18.lee_mini.io.safetensors')));
    const inputs = tensors(await download(page(), '#dl-inputs')).get('images')!;
    expect(inputs.shape).toEqual(io.get('images')!.shape);
    expectMax(inputs.data, io.get('images')!.data, 1e-5, "inputs vs timm's eval transform");
    await act(page(), '#run');
    await noError();
    const raw = tensors(await download(page(), '#dl-raw'));
    for (const key of ['logits', 'probs']) expectMax(raw.get(key)!.data, io.get(key)!.data, 1e-3 * maxAbs(io.get(key)!.data), `${key} vs PyTorch`);
    const top1 = await page().$$eval('#image-table td[data-top1]', (tds) => tds.map((td) => Number(td.getAttribute('data-top1'))));
    expect(top1).toEqual([0, 1, 2, 3].map((i) => argmax(io.get('logits')!.data.subarray(10 * i, 10 * i + 10))));
  });

  it("runs layerwise with the CLI's per-layer values (1e-4 of the total) and timm's layer types", async () => {
    await page().selectOption('#lw-transform', 'rotate');
    await page().fill('#lw-images', '4');
    await act(page(), '#run-layerwise');
    await noError();
    const node = await nodeLayers;
    expect(node.code, node.stderr).toBe(0);
    const want = parseSafetensors(readFileSync(join(tmp, 'layers.safetensors')));
    const got = parseSafetensors(await download(page(), '#dl-lw-raw'));
    expect(got.metadata.layers).toBe(want.metadata.layers);
    const layers = JSON.parse(want.metadata.layers!) as { name: string; type: string }[];
    expect(layers.map((l) => l.type)).toEqual(expect.arrayContaining(['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'Linear']));
    const total = maxAbs(want.tensors.get('lie.rotate')!.data);
    expectMax(got.tensors.get('lie.rotate')!.data, want.tensors.get('lie.rotate')!.data, 1e-4 * total, 'lie.rotate');
    for (const l of layers) expectMax(got.tensors.get(`contrib.${l.name}`)!.data, want.tensors.get(`contrib.${l.name}`)!.data, 1e-4 * total, `contrib.${l.name}`);
    const csv = parseCsv((await download(page(), '#dl-lw-csv')).toString('utf8'));
    const ref = parseCsv(readFileSync(join(tmp, 'layers.csv'), 'utf8'));
    expect(csv.header).toEqual(ref.header);
    const text = (r: string[]) => [0, 1, 2, 3, 6, 7].map((i) => r[i]);
    expect(csv.rows.map(text)).toEqual(ref.rows.map(text));
    expect(await page().locator('#lw-chart svg rect[fill]').count()).toBeGreaterThan(layers.length);
  });

  it('cancels a run between batches', async () => {
    // Cancel is clicked from inside the page the moment the first batch reports, so the
    // run cannot finish first however fast the adapter: the next batch boundary stops it
    await page().fill('#batch', '1');
    await page().evaluate(() => {
      const text = document.getElementById('progress-text')!;
      const watch = new MutationObserver(() => {
        if (!/: [1-9]\d*\/\d+ images/.test(text.textContent ?? '')) return;
        watch.disconnect();
        document.getElementById('cancel')!.click();
      });
      watch.observe(text, { childList: true, characterData: true, subtree: true });
      document.getElementById('run')!.click();
    });
    await idle(page());
    expect(await page().textContent('#progress-text')).toBe('cancelled');
    await noError();
    expect(await gpuBytes(page())).toBe(miniBytes);
    await page().fill('#batch', String(E2E_BATCH));
  });

  it('reproduces the PyTorch Lie derivatives of a fixture state_dict on preprocessed inputs (1e-3)', async () => {
    const io = tensors(readFileSync(join(FIX, 'models/resnet18_mini.io.safetensors')));
    const input = io.get('input')!;
    const file = join(tmp, 'resnet18_mini.input.safetensors');
    writeFileSync(file, encodeSafetensors({ images: { shape: input.shape, data: input.data } }));
    await chooseSource('file');
    await page().setInputFiles('#weights-file', join(FIX, 'models/resnet18_mini.safetensors'));
    await page().setInputFiles('#config-file', []);
    await page().selectOption('#arch', 'resnet18');
    await act(page(), '#load-file');
    await noError();
    await page().setInputFiles('#image-files', file);
    await idle(page());
    await noError();
    await act(page(), '#run');
    await noError();
    await page().selectOption('#arch', '');
    const raw = tensors(await download(page(), '#dl-raw'));
    const want = tensors(readFileSync(join(FIX, 'lie/resnet18_mini.lie.safetensors')));
    const [n, c] = want.get('logits')!.shape as [number, number];
    expectMax(raw.get('logits')!.data, want.get('logits')!.data, 1e-3 * maxAbs(want.get('logits')!.data), 'logits vs PyTorch');
    for (const g of GENERATORS) {
      for (let b = 0; b < n; b++) {
        const row = (t: Float32Array) => t.subarray(b * c, (b + 1) * c);
        expect(relL2(row(raw.get(`lie.${g}`)!.data), row(want.get(`lie.bilinear.${g}`)!.data)), `lie.${g}, image ${b}, vs PyTorch`).toBeLessThanOrEqual(1e-3);
      }
    }
  });

  it('loads a model by hub id from a local hub server, then from the browser cache after a reload', async () => {
    await chooseSource('hub');
    await page().fill('#hub-id', 'timm/resnet18.lee_mini');
    const before = hub.requests.length;
    await act(page(), '#load-hub');
    await noError();
    const asked = hub.requests.slice(before);
    for (const file of ['config.json', 'model.safetensors']) {
      expect(asked.filter((r) => r === `GET /timm/resnet18.lee_mini/resolve/${fixtureCommit('timm/resnet18.lee_mini')}/${file}`), `${file} downloaded once`).toHaveLength(1);
    }
    expect(await page().textContent('#progress-text')).toMatch(/MB/);
    expect(await page().getAttribute('#model-status', 'data-model')).toBe('timm/resnet18.lee_mini');
    expect(await gpuBytes(page()), 'the file model was freed when the hub model replaced it').toBe(miniBytes);
    const pngs = ['arrow', 'checker', 'disc', 'stripes'].map((n) => ({ name: `${n}.png`, mimeType: 'image/png', buffer: readFileSync(join(ROOT, 'assets/images', `${n}.png`)) }));
    await dropFiles(page(), '#image-drop', pngs);
    await idle(page());
    expect(await page().textContent('#images-status')).toMatch(/^4 images: arrow\.png, checker\.png/);
    await act(page(), '#run');
    await noError();
    const io = tensors(readFileSync(join(FIX, 'hub/resnet18.lee_mini.io.safetensors')));
    const raw = tensors(await download(page(), '#dl-raw'));
    expectMax(raw.get('probs')!.data, io.get('probs')!.data, 1e-3 * maxAbs(io.get('probs')!.data), 'probs vs PyTorch');

    await page().reload();
    await page().waitForSelector('body[data-ready="1"]', { timeout: 300_000 });
    await chooseSource('hub');
    await page().fill('#hub-id', 'timm/resnet18.lee_mini');
    const reloaded = hub.requests.length;
    await act(page(), '#load-hub');
    await noError();
    expect(hub.requests.slice(reloaded), 'nothing downloaded again').toEqual([]);
    expect(await page().textContent('#model-status')).toMatch(/from the browser cache/);
  });

  it('frees the previous model when another is loaded: GPU memory returns to its earlier level', async () => {
    expect(await gpuBytes(page())).toBe(miniBytes);
    await chooseSource('default');
    await act(page(), '#load-default');
    expect(await gpuBytes(page())).toBe(defaultBytes);
    await chooseSource('file');
    await dropFiles(page(), '#model-drop', [
      { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(join(HUB_REPO, 'model.safetensors')) },
      { name: 'config.json', mimeType: 'application/json', buffer: readFileSync(join(HUB_REPO, 'config.json')) },
    ]);
    await idle(page());
    expect(await page().getAttribute('#model-status', 'data-model'), 'dropped files load').toBe('resnet18.lee_mini');
    expect(await gpuBytes(page())).toBe(miniBytes);
    await chooseSource('default');
    await act(page(), '#load-default');
    expect(await gpuBytes(page())).toBe(defaultBytes);
    await noError();
  });

  it('shows one clear message for each user error', async () => {
    const expectError = async (re: RegExp) => {
      const text = await errorText(page());
      expect(text).toMatch(re);
      expect(text).not.toMatch(/internal error|\n\s+at /);
      expect(await gpuBytes(page()), 'the loaded model stays').toBe(defaultBytes);
    };
    await chooseSource('file');
    await page().setInputFiles('#config-file', []);
    await page().setInputFiles('#weights-file', { name: 'weights.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a safetensors file') });
    await act(page(), '#load-file');
    await expectError(/weights\.safetensors.*safetensors/);

    await page().setInputFiles('#weights-file', join(FIX, 'hub/timm/vit_tiny_patch16_224.lee_mini/model.safetensors'));
    await page().selectOption('#arch', 'resnet18');
    await act(page(), '#load-file');
    await expectError(/not a resnet18 state_dict|do not match the model/);
    expect(await errorText(page())).toMatch(/missing keys|unexpected keys/);
    await page().selectOption('#arch', '');

    await page().setInputFiles('#image-files', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await idle(page());
    await expectError(/cannot decode image broken\.png/);

    await chooseSource('hub');
    await page().fill('#hub-id', 'timm/no-such-model');
    await act(page(), '#load-hub');
    await expectError(/hub repository timm\/no-such-model was not found at http:\/\/127\.0\.0\.1/);

    await page().fill('#hub-id', 'not a hub id');
    await act(page(), '#load-hub');
    await expectError(/is not a hub model id/);

    const closed = await startHubServer(join(FIX, 'hub'));
    await closed.close();
    await page().click('#hub-settings summary');
    await page().fill('#hub-endpoint', closed.url);
    await page().fill('#hub-id', 'timm/resnet18.lee_mini');
    await act(page(), '#load-hub');
    await expectError(/cannot reach the hub at http:\/\/127\.0\.0\.1:\d+/);
    await page().fill('#hub-endpoint', hub.url);
  });

  it('says so, in one message, in a browser without WebGPU or without an adapter', async () => {
    const other = await page().context().newPage();
    try {
      await other.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
      await other.goto(site.url);
      await other.waitForSelector('body[data-ready="no-gpu"]', { timeout: 60_000 });
      expect(await other.textContent('#error')).toMatch(/^This browser has no WebGPU/);
    } finally {
      await other.close();
    }
    const noAdapter = await page().context().newPage();
    try {
      await noAdapter.addInitScript(() => (GPU.prototype.requestAdapter = async () => null));
      await noAdapter.goto(site.url);
      await noAdapter.waitForSelector('body[data-ready="no-gpu"]', { timeout: 60_000 });
      expect(await noAdapter.textContent('#error')).toMatch(/^WebGPU is there, but this browser gave no adapter/);
    } finally {
      await noAdapter.close();
    }
  });
});

function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    r += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(r), 1e-30);
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function argmax(a: Float32Array): number {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[k]!) k = i;
  return k;
}

function expectMax(got: Float32Array, want: Float32Array, atol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst, `${what}: max |diff|`).toBeLessThanOrEqual(atol);
}

/** The page's JSON is lee e2e --json's: the same fields in the same order and the same
 * values, numbers to 1e-4; the adapter, versions and timings are the machine's, and
 * the demo's weights folders are named relative to the site. */
function expectSameJson(got: Record<string, unknown>, want: Record<string, unknown>): void {
  const strip = (o: Record<string, unknown>) => {
    const { adapter: _a, versions: _v, ...rest } = o;
    return rest;
  };
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (typeof b === 'number') return expectRel(a as number, b, SAME, path);
    if (Array.isArray(b)) {
      expect(Array.isArray(a) && a.length, path).toBe(b.length);
      return b.forEach((v, i) => walk((a as unknown[])[i], v, `${path}[${i}]`));
    }
    if (b && typeof b === 'object') {
      const keys = Object.keys(b).filter((k) => k !== 'timings');
      expect(Object.keys(a as object).filter((k) => k !== 'timings'), path).toEqual(keys);
      return keys.forEach((k) => walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
    }
    if (path.endsWith('.weights') && typeof b === 'string' && b.startsWith(ROOT)) return expect(a, path).toBe(b.slice(ROOT.length).replace(/^\/+/, ''));
    expect(a, path).toBe(b);
  };
  walk(strip(got), strip(want), 'json');
  expect(got.adapter).toBeTruthy();
}
