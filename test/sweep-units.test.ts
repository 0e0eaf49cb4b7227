import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../lee/csv.js';
import { csvCell } from '../lee/report.js';
import { layerDepthSvg, lieAccuracyGridSvg, lieAccuracySvg } from '../lee/figures.js';
import { familyCorrelations, layerShares, median, ranks, spearman, summarise, summaryCsv, type SweepModel } from '../lee/summary.js';
import { linearTicks, logTicks, tickLabel } from '../lee/svg.js';
import { readModelList } from '../cli/sweep/list.js';
import { canonical, isComplete, modelFiles, removePartial, sha256, writeAtomic, type SweepSettings } from '../cli/sweep/outputs.js';
import { k8sManifest, shellWord, slurmScript } from '../cli/sweep/schedulers.js';
import { drawSubset, resolveShard, shardOf } from '../cli/sweep/shard.js';

// The sweep's host-side parts, no GPU: shards, model lists, the completeness record,
// the statistics and figures of lee summary, the scheduler scripts, and the CLI's
// checks (which fail before a GPU is opened).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'lee-sweep-units-'));

describe('shards', () => {
  const none = {};
  it('--shard i/n, Slurm array tasks and Kubernetes Indexed Job pods each pick one shard', () => {
    expect(resolveShard(undefined, undefined, none)).toEqual({ index: 0, count: 1, from: 'unsharded' });
    expect(resolveShard('1/3', undefined, none)).toEqual({ index: 1, count: 3, from: '--shard' });
    // the flag wins over the environment
    expect(resolveShard('0/2', undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' }).index).toBe(0);
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 1, count: 4, from: 'Slurm array' });
    // --array=1-4 and --array=0-6:2: the shard is the task's place in the array
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }).index).toBe(3);
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '2' }).index).toBe(2);
    // with --shards (the printed script) the task id is the shard, also for a task resubmitted alone
    expect(resolveShard(undefined, 8, { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '1', SLURM_ARRAY_TASK_MIN: '5' })).toEqual({ index: 5, count: 8, from: 'Slurm array' });
    expect(resolveShard(undefined, 3, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 3, from: 'Kubernetes Indexed Job' });
  });

  it('rejects what cannot be a shard', () => {
    expect(() => resolveShard('2/2', undefined, none)).toThrow(/0 <= i < n/);
    expect(() => resolveShard('1-2', undefined, none)).toThrow(/takes i\/n/);
    expect(() => resolveShard('0/2', 3, none)).toThrow(/disagree/);
    expect(() => resolveShard(undefined, 2, none)).toThrow(/needs this process's index/);
    expect(() => resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '0' })).toThrow(/give --shards N/);
    expect(() => resolveShard(undefined, 2, { JOB_COMPLETION_INDEX: '2' })).toThrow(/not below --shards 2/);
    expect(() => resolveShard(undefined, 2, { SLURM_ARRAY_TASK_ID: '2' })).toThrow(/--array=0-1/);
    expect(() => resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '0' })).toThrow(/SLURM_ARRAY_TASK_COUNT/);
  });

  it('splits a list into disjoint shards that cover it, every n-th from the i-th', () => {
    const items = Array.from({ length: 11 }, (_, i) => i);
    const parts = [0, 1, 2].map((index) => shardOf(items, { index, count: 3, from: '--shard' }));
    expect(parts[1]).toEqual([1, 4, 7, 10]);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(items);
  });

  it('--limit draws the same images for a seed, in their listed order', () => {
    const items = Array.from({ length: 50 }, (_, i) => `img${i}`);
    const a = drawSubset(items, 10, 0);
    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect([...a].sort((p, q) => items.indexOf(p) - items.indexOf(q))).toEqual(a);
    expect(drawSubset(items, 10, 0)).toEqual(a);
    expect(drawSubset(items, 10, 1)).not.toEqual(a);
    expect(drawSubset(items, 80, 0)).toEqual(items);
  });
});

describe('model lists', () => {
  it('reads a list file: checkpoint folders relative to it, hub ids, architectures, comments', async () => {
    const d = join(tmp, 'list');
    mkdirSync(join(d, 'ckpt', 'my-model'), { recursive: true });
    mkdirSync(join(d, 'resnet18'), { recursive: true });
    const file = join(d, 'models.txt');
    writeFileSync(file, ['# a study', 'ckpt/my-model', '', 'timm/resnet50.a1_in1k   # the paper\'s ResNet', 'someone/vit-small@v2', 'resnet18', 'convnext_tiny.fb_in1k'].join('\n'));
    const list = await readModelList(file);
    expect(list.entries.map((e) => [e.name, e.model ?? null, e.weights ?? null])).toEqual([
      ['my-model', null, join(d, 'ckpt', 'my-model')],
      ['resnet50.a1_in1k', 'timm/resnet50.a1_in1k', null],
      ['someone--vit-small@v2', 'someone/vit-small@v2', null],
      // a folder next to the list wins over the architecture of that name
      ['resnet18', null, join(d, 'resnet18')],
      ['convnext_tiny.fb_in1k', 'convnext_tiny.fb_in1k', null],
    ]);
    expect(list.entries[1]!.arch).toBe('resnet50');
  });

  it('rejects unknown models, missing folders and two entries with one output name', async () => {
    const bad = async (lines: string[]) => {
      const f = join(tmp, `bad-${Math.random().toString(36).slice(2)}.txt`);
      writeFileSync(f, lines.join('\n'));
      return readModelList(f);
    };
    await expect(bad(['resnet9000'])).rejects.toThrow(/:1: unknown model 'resnet9000'/);
    await expect(bad(['resnet18', './nowhere'])).rejects.toThrow(/:2: '.\/nowhere' is not a checkpoint folder/);
    await expect(bad(['timm/resnet50.a1_in1k', 'other/resnet50.a1_in1k', 'timm/resnet50.a1_in1k'])).rejects.toThrow(/would both write resnet50\.a1_in1k\.csv/);
    await expect(bad(['# nothing'])).rejects.toThrow(/lists no models/);
    await expect(readModelList('no-such-list')).rejects.toThrow(/no such file, and not a named list \(core, demo\)/);
  });

  it('core is the paper\'s 83 models as timm 0.9\'s hub ids, those not supported yet left out and named', async () => {
    const list = await readModelList('core');
    expect(list.entries.length + list.unsupported.length).toBe(83);
    expect(list.entries.length).toBeGreaterThanOrEqual(39);
    const hub = new Map(list.entries.map((e) => [e.name, e.model]));
    expect(hub.get('resnet50')).toBe('timm/resnet50.a1_in1k');
    expect(hub.get('tv_resnet50')).toBe('timm/resnet50.tv_in1k');
    expect(hub.get('convnext_tiny_in22ft1k')).toBe('timm/convnext_tiny.fb_in22k_ft_in1k');
    expect(list.entries.find((e) => e.name === 'tv_resnet50')).toMatchObject({ spec: 'timm/resnet50.tv_in1k', arch: 'resnet50' });
  });
});

describe('outputs', () => {
  const settings: SweepSettings = {
    engine: '0.1.0',
    entry: 'models/a',
    transforms: ['rotate'],
    interp: 'bilinear',
    images: { count: 2, sha256: 'abc' },
    layerwise: ['rotate'],
  };

  it('a model is complete when its JSON names the same settings and the hash of every output', async () => {
    const d = join(tmp, 'complete');
    mkdirSync(d);
    const files = modelFiles(d, 'a', ['rotate']);
    const write = async (s: SweepSettings, csv = 'image,model\n1,a\n') => {
      await writeAtomic(files.csv, csv);
      await writeAtomic(files.layerwise.get('rotate')!, 'layer\n');
      await writeAtomic(files.json, JSON.stringify({ sweep: { settings: s, outputs: { 'a.csv': sha256(csv), 'a.layerwise.rotate.csv': sha256('layer\n') } } }));
    };
    expect(await isComplete(files, settings)).toBe(false);
    await write(settings);
    expect(await isComplete(files, settings)).toBe(true);
    // key order does not matter; values do
    expect(await isComplete(files, JSON.parse(canonical(settings)))).toBe(true);
    expect(await isComplete(files, { ...settings, interp: 'bicubic' })).toBe(false);
    expect(await isComplete(files, { ...settings, images: { count: 2, sha256: 'abd' } })).toBe(false);
    expect(await isComplete(modelFiles(d, 'a', ['rotate', 'scale']), { ...settings, layerwise: ['rotate', 'scale'] })).toBe(false);
    writeFileSync(files.csv, 'image,model\n1,b\n');
    expect(await isComplete(files, settings)).toBe(false);
    await write(settings);
    writeFileSync(files.json, '{"sweep": {"settings":');
    expect(await isComplete(files, settings)).toBe(false);
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('removes what a killed run left of one model and nothing else', async () => {
    const d = join(tmp, 'partial');
    mkdirSync(d);
    for (const n of ['.a.csv.h.1.tmp', '.a.json.h.2.tmp', '.a.layerwise.rotate.csv.h.3.tmp', '.b.csv.h.1.tmp', 'a.csv']) writeFileSync(join(d, n), 'x');
    await removePartial(d, modelFiles(d, 'a', ['rotate']));
    expect(readdirSync(d).sort()).toEqual(['.b.csv.h.1.tmp', 'a.csv']);
  });
});

describe('summary statistics', () => {
  it('ranks ties by their mean rank and correlates as scipy.stats.spearmanr', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 15);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 15);
    // scipy.stats.spearmanr([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).statistic == 0.8
    expect(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
    // with ties: spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) == 0.9486832980505138
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505138, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('reads back the CSV it writes, quotes and all', () => {
    const cells = ['a,b', 'say "hi"', 'two\nlines', '', '0.5'];
    const text = `x,y,z,u,v\n${cells.map(csvCell).join(',')}\n`;
    const { columns, rows } = parseCsv(text);
    expect(columns).toEqual(['x', 'y', 'z', 'u', 'v']);
    expect(rows).toEqual([{ x: 'a,b', y: 'say "hi"', z: 'two\nlines', u: '', v: '0.5' }]);
  });

  const model = (name: string, family: string, acc: number[], rot: number[]): SweepModel => ({
    name,
    id: `${name}.tag`,
    architecture: family,
    family,
    params: 1000,
    rows: acc.map((a, i) => ({ image: `i${i}`, model: name, rot_deriv: String(rot[i]), trans_x_deriv: '', acc: String(a) })),
    layerwise: [],
  });
  const models = [
    model('r1', 'resnet', [1, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]),
    model('r2', 'resnet', [1, 0, 0, 0], [0.5, 0.6, 0.7, 0.9]),
    model('r3', 'resnet', [1, 1, 1, 1], [0.01, 0.02, 0.03, 0.04]),
    model('v1', 'vit', [0, 1, 0, 1], [0.2, 0.2, 0.2, 0.2]),
  ];

  it('merges models into one row each: mean, median, accuracy; a generator not run stays empty', () => {
    const rows = summarise(models, ['rot_deriv', 'trans_x_deriv']);
    expect(rows[0]).toMatchObject({ model: 'r1', acc: 0.75, images: 4, labelled: 4, stats: { rot_deriv: { mean: 0.25, median: 0.25 } } });
    expect(rows[0]!.stats.trans_x_deriv).toBeUndefined();
    const csv = parseCsv(summaryCsv(rows, ['rot_deriv', 'trans_x_deriv']));
    expect(csv.columns.slice(0, 10)).toEqual(['model', 'id', 'architecture', 'family', 'params', 'images', 'labelled', 'acc', 'rot_deriv_mean', 'rot_deriv_median']);
    expect(csv.rows[1]).toMatchObject({ model: 'r2', acc: '0.25', rot_deriv_mean: String(0.675), rot_deriv_median: String((0.6 + 0.7) / 2), trans_x_deriv_mean: '' });
    const corr = familyCorrelations(rows, 'rot_deriv');
    expect(corr.map((c) => [c.family, c.n])).toEqual([['resnet', 3], ['vit', 1], ['all', 4]]);
    // resnet: accuracy 0.75, 0.25, 1 against means 0.25, 0.675, 0.025: perfectly anti-monotone
    expect(corr[0]!.rho).toBeCloseTo(-1, 12);
  });

  it('draws one point per model and family, with the axes labelled, on a log axis', () => {
    const rows = summarise(models, ['rot_deriv']);
    const svg = lieAccuracySvg(rows, 'rotate');
    expect([...svg.matchAll(/<circle class="point" data-model="(\w+)" data-family="(\w+)"/g)].map((m) => m[1])).toEqual(['r1', 'r2', 'r3', 'v1']);
    expect(svg).toContain('>top-1 accuracy (%)</text>');
    expect(svg).toContain('>mean |L p| (rot_deriv, log)</text>');
    expect(svg).toContain('>resnet: ρ = -1.00 (n=3)</text>');
    expect(svg).toContain('>vit: ρ n/a (n=1)</text>');
    // every tick of a log axis spanning 0.01..0.9 is a power of ten
    const ticks = [...svg.matchAll(/<text class="tick" x="\d+" [^>]*text-anchor="end">([^<]+)</g)].map((m) => m[1]);
    expect(ticks).toEqual(['0.01', '0.1', '1']);
    const grid = lieAccuracyGridSvg(rows, ['rotate', 'translate_x']);
    expect([...grid.matchAll(/<g class="panel" data-generator="(\w+)"/g)].map((m) => m[1])).toEqual(['rotate', 'translate_x']);
    // no model has translate_x: its panel is empty
    expect(grid.split('data-generator="translate_x"')[1]!.match(/class="point"/g)).toBeNull();
  });

  it('places each layer at its relative depth, one line per model', () => {
    const rows = ['a', 'b', 'c'].flatMap((layer, order) =>
      [0, 1].map((img) => ({ layer, type: 'Conv2d', order: String(order), image: `i${img}`, sq_norm: String(order + img), share: String([0.5, 0.25, 0.25][order]! + (img ? 0.1 : -0.1)) })),
    );
    const layers = layerShares(rows);
    expect(layers.map((l) => [l.layer, l.depth])).toEqual([['a', 0], ['b', 0.5], ['c', 1]]);
    expect(layers[0]!.share).toBeCloseTo(0.5, 12);
    expect(layers[2]!.sqNorm).toBeCloseTo(2.5, 12);
    const svg = layerDepthSvg([{ model: 'm1', family: 'resnet', layers }, { model: 'm2', family: 'resnet', layers }], 'rotate');
    const lines = [...svg.matchAll(/<polyline class="series" data-model="(\w+)"[^>]*stroke-dasharray="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    // one family, one colour: the second model's line is dashed
    expect(lines).toEqual([['m1', 'none'], ['m2', '6 3']]);
  });

  it('picks round ticks', () => {
    expect(linearTicks(48, 77, 4).ticks).toEqual([40, 50, 60, 70, 80]);
    expect(logTicks(0.12, 0.9).ticks).toEqual([0.1, 0.2, 0.5, 1]);
    expect(logTicks(3e-4, 20).ticks).toEqual([1e-4, 1e-3, 0.01, 0.1, 1, 10, 100]);
    expect([0, 0.05, 2, 40, 1e-4, 0.30000000000000004].map(tickLabel)).toEqual(['0', '0.05', '2', '40', '1e-4', '0.3']);
  });
});

describe('schedulers', () => {
  it('quotes shell words only where they need it', () => {
    expect(shellWord('/a/b-c.txt')).toBe('/a/b-c.txt');
    expect(shellWord("it's here")).toBe(`'it'\\''s here'`);
  });

  it('writes an sbatch array script and an Indexed Job manifest of the sweep', () => {
    const sh = slurmScript({ tasks: 3, cwd: '/home/me', command: ['/usr/bin/node', '/x/lee.js', 'sweep', '--models', '/d/m.txt', '--shards', '3'], logDir: '/d/out', sbatch: ['--gres=gpu:1', '--time=01:00:00'] });
    expect(sh.split('\n')[0]).toBe('#!/bin/bash');
    expect(sh).toMatch(/^#SBATCH --array=0-2$/m);
    expect(sh).toMatch(/^#SBATCH --output=\/d\/out\/slurm-%A_%a\.log$/m);
    expect(sh).toMatch(/^#SBATCH --gres=gpu:1$/m);
    expect(sh).toMatch(/^#SBATCH --time=01:00:00$/m);
    expect(sh).toMatch(/^exec \/usr\/bin\/node \/x\/lee\.js sweep --models \/d\/m\.txt --shards 3$/m);
    const yaml = k8sManifest({ image: 'registry.example/lee:1', tasks: 4, command: ['lee', 'sweep', '--models', 'core', '--shards', '4'] });
    expect(yaml).toMatch(/^kind: Job$/m);
    expect(yaml).toMatch(/^ {2}completionMode: Indexed$/m);
    expect(yaml).toMatch(/^ {2}completions: 4$/m);
    expect(yaml).toMatch(/^ {10}image: "registry\.example\/lee:1"$/m);
    expect(JSON.parse(/command: (\[.*\])$/m.exec(yaml)![1]!)).toEqual(['lee', 'sweep', '--models', 'core', '--shards', '4']);
  });
});

describe('lee sweep / lee summary on the host', () => {
  function lee(...args: string[]) {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/lee.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const images = join(ROOT, 'assets/images');
  const list = join(tmp, 'one.txt');
  writeFileSync(list, `${join(ROOT, 'test/fixtures/hub/timm/mixer_s16_224.lee_mini')}\n`);

  it('prints the scripts for the sweep it was given, with absolute paths for Slurm', () => {
    const s = lee('sweep', '--models', 'one.txt', '--images', images, '--out', 'res', '--transforms', 'rotate', '--print-slurm', '--sbatch=--gres=gpu:1');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^#SBATCH --array=0-0$/m);
    expect(s.stdout).toContain(`sweep --models ${list} --images ${images} --out ${join(tmp, 'res')} --transforms rotate --shards 1`);
    const k = lee('sweep', '--models', 'one.txt', '--images', 'imgs', '--out', 'res', '--print-k8s', 'lee:latest', '--shards', '2');
    expect(k.code, k.stderr).toBe(0);
    expect(JSON.parse(/command: (\[.*\])$/m.exec(k.stdout)![1]!)).toEqual(['lee', 'sweep', '--models', 'one.txt', '--images', 'imgs', '--out', 'res', '--shards', '2']);
  });

  it('fails with one line for what it cannot run', () => {
    const err = (r: ReturnType<typeof lee>, re: RegExp) => {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    };
    err(lee('sweep', '--images', images), /^lee sweep: --models is required/m);
    err(lee('sweep', '--models', 'one.txt'), /^lee sweep: --images is required/m);
    err(lee('sweep', '--models', 'one.txt', '--images', images, '--shard', '3/2'), /^lee sweep: --shard 3\/2: need 0 <= i < n/m);
    err(lee('sweep', '--models', 'one.txt', '--images', images, '--layerwise', 'twist'), /unknown transform 'twist'/);
    err(lee('sweep', '--models', 'one.txt', '--images', join(tmp, 'none')), /cannot read .*none: no such file or folder/);
    err(lee('summary', join(tmp, 'nothing-here')), /^lee summary: cannot read .*: no such folder/m);
    mkdirSync(join(tmp, 'empty'));
    err(lee('summary', join(tmp, 'empty')), /holds no complete sweep outputs/);
  });
});
