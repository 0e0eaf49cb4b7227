import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, shutdown } from '../engine/runtime.js';
import { loadSafetensors } from '../engine/safetensors.js';
import { LeeError } from '../engine/errors.js';
import { disposeWeights } from '../models/module.js';
import { runE2E } from '../lee/e2e.js';
import { loadModel, prepareInputs, type InputFlags } from '../cli/inputs.js';
import { startHubServer, type HubServer } from './helpers/hub-server.js';
import { expectLogitsClose } from './helpers/parity.js';

const ROOT = 'test/fixtures/hub';
const NAMES = readdirSync(join(ROOT, 'timm')).sort();
const home = mkdtempSync(join(tmpdir(), 'lee-hub-cli-'));
const saved = { ...process.env };
let server: HubServer;

/** A run as `lee e2e` makes it: flags checked on the host, then the model on the GPU;
 * returns logits [N, classes] and the run's plan. */
async function e2e(flags: InputFlags) {
  const { plan, source } = await prepareInputs('e2e', { quiet: true, ...flags }, []);
  const model = loadModel(plan);
  try {
    const r = await runE2E(model, source, { transforms: ['translate_x'], interp: 'bilinear', batch: 4 });
    return { plan, logits: r.logits, names: source.names };
  } finally {
    disposeWeights(model);
  }
}

async function fixtureLogits(name: string): Promise<Float32Array> {
  const io = (await loadSafetensors(join(ROOT, `${name}.io.safetensors`))).tensors;
  return Float32Array.from(io.get('logits')!.data);
}

async function userError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(LeeError);
  return (e as LeeError).message;
}

beforeAll(async () => {
  server = await startHubServer(ROOT);
  process.env.HF_HOME = home;
  process.env.HF_ENDPOINT = server.url;
  delete process.env.HF_HUB_CACHE;
  delete process.env.HUGGINGFACE_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
  await init();
});

afterAll(async () => {
  await shutdown();
  await server.close().catch(() => undefined);
  process.env = saved;
  rmSync(home, { recursive: true, force: true });
});

describe('lee e2e --model <hub id>', () => {
  // each fixture repo has its own input size, crop mode, interpolation and mean/std in
  // config.json: the bundled images through lee-gpu's preprocessing with those settings
  // must give timm's logits on timm's own transform of the same images
  for (const name of NAMES) {
    it(`downloads timm/${name}, preprocesses as its config.json says and gives timm's logits`, async () => {
      const { plan, logits, names } = await e2e({ model: `timm/${name}`, images: ['assets/images'] });
      expect(names).toEqual(['arrow.png', 'checker.png', 'disc.png', 'stripes.png']);
      expect(plan.id).toBe(`timm/${name}`);
      expectLogitsClose(logits, await fixtureLogits(name), name);
    });
  }

  it('the snapshot is in the Python cache layout; it runs from the cache alone and offline', async () => {
    const repo = join(home, 'hub', 'models--timm--resnet18.lee_mini');
    expect(readdirSync(repo).sort()).toEqual(['blobs', 'refs', 'snapshots']);
    await server.close();
    const want = await fixtureLogits('resnet18.lee_mini');
    expectLogitsClose((await e2e({ model: 'timm/resnet18.lee_mini', images: ['assets/images'] })).logits, want, 'from the cache');
    process.env.HF_HUB_OFFLINE = '1';
    try {
      expectLogitsClose((await e2e({ model: 'hf-hub:timm/resnet18.lee_mini', images: ['assets/images'] })).logits, want, 'offline');
      // a repository that was never downloaded: offline, one clear line
      expect(await userError(prepareInputs('e2e', { model: 'timm/resnet50.a1_in1k', quiet: true }, []))).toMatch(/not in the local cache.*HF_HUB_OFFLINE/);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    // with the server gone and not offline: the endpoint is unreachable
    expect(await userError(prepareInputs('e2e', { model: 'timm/resnet50.a1_in1k', quiet: true }, []))).toMatch(/cannot reach the hub/);
  });

  it('--weights takes the snapshot folder itself; architecture from config.json', async () => {
    const snaps = join(home, 'hub', 'models--timm--vit_tiny_patch16_224.lee_mini', 'snapshots');
    const dir = join(snaps, readdirSync(snaps)[0]!);
    const { plan, logits } = await e2e({ weights: dir, images: ['assets/images'] });
    expect(plan.name).toBe('vit_tiny_patch16_224');
    expect(plan.id).toBe('vit_tiny_patch16_224.lee_mini');
    // heads come from config.json's model_args (3): a state_dict does not record them
    expectLogitsClose(logits, await fixtureLogits('vit_tiny_patch16_224.lee_mini'), 'snapshot folder');
  });
});

describe('labelled ImageFolder trees', () => {
  const tree = mkdtempSync(join(tmpdir(), 'lee-tree-'));
  // the resnet fixture's label_names are n00000000 ... n00000009
  const put = (root: string, folder: string, image: string) => {
    mkdirSync(join(root, folder), { recursive: true });
    copyFileSync(join('assets/images', image), join(root, folder, image));
  };

  it("label images by label_names, integer folders or a --labels file; acc is top-1 correct", async () => {
    const byName = join(tree, 'names');
    put(byName, 'n00000003', 'arrow.png');
    put(byName, '7', 'checker.png');
    const want = await fixtureLogits('resnet18.lee_mini');
    const argmax = (row: number) => [...want.subarray(row * 10, row * 10 + 10)].reduce((b, v, k, a) => (v > a[b]! ? k : b), 0);
    const { plan, logits, names } = await e2e({ model: 'timm/resnet18.lee_mini', images: [byName] });
    expect(names).toEqual(['7/checker.png', 'n00000003/arrow.png']);
    const { predictions } = await import('../lee/labels.js');
    const p = predictions(logits, plan.classes, [7, 3]);
    // fixture rows: arrow 0, checker 1
    expect(p.map((x) => x.top1)).toEqual([argmax(1), argmax(0)]);
    expect(p.map((x) => x.acc)).toEqual([argmax(1) === 7 ? 1 : 0, argmax(0) === 3 ? 1 : 0]);
    expect(p[0]!.top1Name).toBe(`n0000000${argmax(1)}`);

    const byFile = join(tree, 'file');
    put(byFile, 'dog', 'disc.png');
    const labels = join(tree, 'labels.txt');
    writeFileSync(labels, ['cat', 'bird', 'dog', 'a', 'b', 'c', 'd', 'e', 'f', 'g'].join('\n') + '\n');
    const run = await prepareInputs('e2e', { model: 'timm/resnet18.lee_mini', images: [byFile], labels, quiet: true }, []);
    expect(run.source.labels).toEqual([2]);
    const bad = join(tree, 'bad');
    put(bad, 'zebra', 'disc.png');
    expect(await userError(prepareInputs('e2e', { model: 'timm/resnet18.lee_mini', images: [bad], quiet: true }, []))).toMatch(/image folder 'zebra' maps to no class/);
  });
});

describe('checkpoint folders that cannot run give one clear line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lee-ckpt-'));
  const src = join(ROOT, 'timm', 'resnet18.lee_mini');
  const folder = (name: string, config?: object) => {
    const d = join(dir, name);
    mkdirSync(d);
    copyFileSync(join(src, 'model.safetensors'), join(d, 'model.safetensors'));
    if (config) writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    return d;
  };

  it('unsupported architecture, no config.json, no model.safetensors, wrong --model, wrong num_classes', async () => {
    const cfg = { architecture: 'resnet18', num_classes: 10, pretrained_cfg: { input_size: [3, 48, 48] } };
    const cases: [InputFlags, RegExp][] = [
      [{ weights: folder('arch', { ...cfg, architecture: 'efficientformer_l1' }) }, /architecture 'efficientformer_l1' is not supported by lee-gpu/],
      [{ weights: folder('noconfig') }, /has no config\.json/],
      [{ weights: folder('classes', { ...cfg, num_classes: 7 }) }, /config\.json says 7 classes but the weights' classifier has 10/],
      [{ model: 'resnet50', weights: folder('mismatch', cfg) }, /--model resnet50 does not match .*resnet18/],
      [{ model: 'timm/x', weights: folder('both', cfg) }, /not both/],
    ];
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'config.json'), JSON.stringify(cfg));
    writeFileSync(join(empty, 'pytorch_model.bin'), 'pickle');
    cases.push([{ weights: empty }, /has no model\.safetensors \(only pytorch_model\.bin/]);
    for (const [flags, re] of cases) expect(await userError(prepareInputs('e2e', { quiet: true, ...flags }, []))).toMatch(re);
  });
});
