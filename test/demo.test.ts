import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, shutdown } from '../engine/runtime.js';
import { Tensor, tidy } from '../engine/tensor.js';
import { dual } from '../engine/dual.js';
import { disposeWeights } from '../models/module.js';
import { predictions } from '../lee/labels.js';
import { GENERATORS, COLUMN } from '../lee/transforms.js';
import { demoIds, demoInputs } from '../cli/demo.js';
import { loadModel } from '../cli/inputs.js';

const ROOT = join(import.meta.dirname, '..');
const IDS = ['resnet', 'vit', 'mixer', 'convnext'].flatMap((f) => [`fmnist-${f}-canonical`, `fmnist-${f}-augmented`]);
const dir = mkdtempSync(join(tmpdir(), 'lee-demo-'));

interface TrainRecord {
  test_accuracy: number;
  shipped_images: number;
  shipped_accuracy: number;
  shipped_predictions: Record<string, number>;
}
const record = (id: string): TrainRecord => JSON.parse(readFileSync(join(ROOT, 'assets', 'demo', id, 'train.json'), 'utf8'));

describe('the bundled demo models', () => {
  beforeAll(async () => {
    await init();
  });
  afterAll(async () => {
    await shutdown();
  });

  it('are the four families, each canonical and augmented', () => {
    expect(demoIds()).toEqual(IDS);
  });

  // train.json records what PyTorch predicted for every shipped image, from the same F16
  // weights and the PNG files read back as the engine reads them
  it("reproduce each model's recorded top-1 on every shipped image, so its accuracy", async () => {
    for (const run of await demoInputs()) {
      const want = record(run.plan.id);
      const n = run.source.names.length;
      expect(n).toBe(want.shipped_images);
      const model = loadModel(run.plan);
      try {
        const x = Tensor.fromData(await run.source.load(0, n), [n, 3, ...run.source.size]);
        const out = tidy(() => model.forward(dual(x)).primal);
        const p = predictions(await out.read(), run.plan.classes, run.source.labels);
        x.dispose();
        out.dispose();
        const got = Object.fromEntries(run.source.names.map((name, i) => [name, p[i]!.top1]));
        expect(got, run.plan.id).toEqual(want.shipped_predictions);
        const acc = p.filter((q) => q.acc === 1).length / n;
        expect(acc, run.plan.id).toBeCloseTo(want.shipped_accuracy, 6);
        // the shipped images are a fair sample: within 10 points of the 10,000-image test split
        expect(Math.abs(acc - want.test_accuracy), run.plan.id).toBeLessThan(0.1);
      } finally {
        disposeWeights(model);
      }
    }
  });
});

describe('npx lee e2e / lee layerwise with no arguments', () => {
  const lee = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['dist/cli/lee.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('runs the eight demo models: accuracy and mean |L p| per generator; --out carries label and acc', () => {
    const out = join(dir, 'demo.csv');
    const r = lee('e2e', '--out', out, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/RANDOM/);
    const lines = r.stdout.trim().split('\n');
    const header = lines.find((l) => l.startsWith('model'))!;
    expect(header.split(/\s+/)).toEqual(['model', 'acc', ...GENERATORS]);
    const csv = readFileSync(out, 'utf8').trim().split('\n');
    const cols = csv[0]!.split(',');
    const rows = csv.slice(1).map((l) => l.split(','));
    for (const id of IDS) {
      const want = record(id);
      const line = lines.find((l) => l.startsWith(`${id} `));
      expect(line, id).toBeDefined();
      const cells = line!.trim().split(/\s+/);
      expect(cells[1]).toBe(`${(100 * want.shipped_accuracy).toFixed(1)}%`);
      const mine = rows.filter((c) => c[cols.indexOf('model')] === id);
      expect(mine).toHaveLength(want.shipped_images);
      for (const c of mine) {
        const label = Number(c[cols.indexOf('label')]);
        const top1 = Number(c[cols.indexOf('top1')]);
        expect(c[cols.indexOf('image')]!.startsWith(`${label}/`)).toBe(true);
        expect(Number(c[cols.indexOf('acc')])).toBe(top1 === label ? 1 : 0);
        expect(c[cols.indexOf('top1_name')]).not.toBe('');
      }
      // the table's numbers are the CSV's means over images
      GENERATORS.forEach((g, k) => {
        const mean = mine.reduce((a, c) => a + Number(c[cols.indexOf(COLUMN[g])]), 0) / mine.length;
        // printed with three significant digits: off by at most half a unit in the last
        expect(Math.abs(Number(cells[2 + k]) - mean), `${id} ${g}`).toBeLessThanOrEqual(0.005 * mean);
      });
    }
  });

  it('runs the canonical / augmented ResNet pair layer by layer', () => {
    const r = lee('layerwise', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/translate_x: mean \|L p\| fmnist-resnet-canonical \d\.\d+e-\d+, fmnist-resnet-augmented \d\.\d+e-\d+ \(50 images\)/);
    expect(r.stdout).toMatch(/^conv1\s+Conv2d\s+\d/m);
    expect(r.stderr).not.toMatch(/warning: .*additivity/);
  });
});
