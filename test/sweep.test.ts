import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../lee/csv.js';
import { metricColumns } from '../lee/summary.js';
import { SWEEP_MODELS, writeSweepFixture } from './helpers/sweep-fixture.js';

// The sweep fixture (test/helpers/sweep-fixture.ts): four small checkpoints, two
// families, on four labelled images; every run below writes the same files as the
// reference run, which is what resumability and sharding promise.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LEE = join(ROOT, 'dist/cli/lee.js');
const dir = mkdtempSync(join(tmpdir(), 'lee-sweep-'));
const fx = writeSweepFixture(dir);
const SETTINGS = ['--models', fx.list, '--images', fx.images, '--layerwise', 'rotate'];
const names = SWEEP_MODELS.map((m) => m.name);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function lee(...args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [LEE, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1e3 };
}

/** `lee` in the background, so independent runs share the two cores. */
function leeAsync(...args: string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LEE, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1e3 }));
  });
}

/** Run `jobs` two at a time (the cores CI has): more at once only thrash. */
async function twoAtATime<T>(jobs: readonly (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const k = next++;
      out[k] = await jobs[k]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** A sweep folder's files as they must agree between runs: every file (temporary ones
 * included) by name, CSVs as text, JSON without what differs between runs of the same
 * settings (timings, the run's host, pid and shard). Scheduler logs and summaries aside. */
function outputs(folder: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of readdirSync(folder).sort()) {
    if (statSync(join(folder, n)).isDirectory() || /^slurm-.*\.log$/.test(n)) continue;
    const text = readFileSync(join(folder, n), 'utf8');
    if (!n.endsWith('.json')) {
      out[n] = text;
      continue;
    }
    const j = JSON.parse(text);
    delete j.timings;
    delete j.sweep?.run;
    out[n] = j;
  }
  return out;
}

// each run takes seconds on an idle 2-core machine; a loaded one may take minutes
const SLOW = { timeout: 900_000 };
const ref = join(dir, 'ref');
let reference: Record<string, unknown>;
let refRun: Run;

beforeAll(() => {
  refRun = lee('sweep', ...SETTINGS, '--out', ref);
  expect(refRun.code, refRun.stderr).toBe(0);
  reference = outputs(ref);
  console.log(`unsharded fixture sweep: ${refRun.seconds.toFixed(1)} s`);
}, SLOW.timeout);

describe('lee sweep', () => {
  it('writes per model the CSV lee e2e --out writes and the layerwise CSV lee layerwise --out writes, and a JSON vouching for them', SLOW, async () => {
    const expected = names.flatMap((n) => [`${n}.csv`, `${n}.json`, `${n}.layerwise.rotate.csv`]).sort();
    expect(Object.keys(reference)).toEqual(expected);
    // one line per model done: model, images, time, ETA
    for (const n of names) expect(refRun.stderr).toMatch(new RegExp(`^sweep: \\d/4 ${n}: 4 images, [\\d.]+ s, top-1 [\\d.]+%; shard ETA [\\dhms]+$`, 'm'));

    const e2e = names.map((n) => () => leeAsync('e2e', '--weights', fx.modelDir(n), '--images', fx.images, '--out', join(dir, `e2e-${n}.csv`), '--quiet'));
    const lw = ['mixer-a', 'vit-a'].map((n) => () =>
      leeAsync('layerwise', '--weights', fx.modelDir(n), '--images', fx.images, '--transform', 'rotate', '--out', join(dir, `lw-${n}.csv`), '--quiet'),
    );
    for (const r of await twoAtATime([...e2e, ...lw])) expect(r.code, r.stderr).toBe(0);
    for (const n of names) expect(reference[`${n}.csv`], n).toBe(readFileSync(join(dir, `e2e-${n}.csv`), 'utf8'));
    for (const n of ['mixer-a', 'vit-a']) expect(reference[`${n}.layerwise.rotate.csv`], n).toBe(readFileSync(join(dir, `lw-${n}.csv`), 'utf8'));

    const meta = reference['vit-b.json'] as Record<string, any>;
    expect(meta.model).toBe('vit_tiny_patch16_224.lee_b');
    expect(meta.sweep.name).toBe('vit-b');
    expect(meta.sweep.entry).toBe('models/vit-b');
    expect(meta.sweep.family).toBe('vit');
    expect(meta.sweep.parameters).toBeGreaterThan(1000);
    expect(meta.sweep.settings).toMatchObject({ interp: 'bilinear', layerwise: ['rotate'], images: { count: 4 } });
    expect(meta.sweep.settings.transforms).toHaveLength(10);
    expect(Object.keys(meta.sweep.outputs).sort()).toEqual(['vit-b.csv', 'vit-b.layerwise.rotate.csv']);
    expect(meta.labelled_images).toBe(4);
  });

  it('does nothing on a rerun, without opening the GPU', () => {
    const before = readdirSync(ref).map((n) => [n, statSync(join(ref, n)).mtimeMs]);
    const r = lee('sweep', ...SETTINGS, '--out', ref);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/unsharded: 4 of 4 models, 4 complete, 0 to run/);
    expect(r.stderr).not.toMatch(/^sweep: \d\/\d /m);
    expect(readdirSync(ref).map((n) => [n, statSync(join(ref, n)).mtimeMs])).toEqual(before);
    console.log(`rerun of a complete sweep: ${r.seconds.toFixed(1)} s`);
  });

  it('ends with exactly the files of an uninterrupted run after a SIGKILL partway and a rerun', SLOW, async () => {
    const out = join(dir, 'killed');
    // its own process group: the kill takes lee and the worker it starts, as a node
    // failure or the OOM killer would
    const child = spawn(process.execPath, [LEE, 'sweep', ...SETTINGS, '--out', out], { cwd: ROOT, detached: true, stdio: 'ignore' });
    const killed = await new Promise<boolean>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(out, 'mixer-a.json'))) {
          clearInterval(poll);
          process.kill(-child.pid!, 'SIGKILL');
          resolve(true);
        }
      }, 10);
      child.on('exit', () => {
        clearInterval(poll);
        resolve(false);
      });
    });
    expect(killed, 'the sweep finished before it could be killed').toBe(true);
    await new Promise((r) => child.on('close', r));
    expect(existsSync(join(out, 'vit-b.json'))).toBe(false);
    // what a kill between writes leaves: a temporary file, and a CSV with no JSON for it
    writeFileSync(join(out, '.vit-a.csv.otherhost.4242.tmp'), 'image,model\n0/arr');
    writeFileSync(join(out, 'vit-b.csv'), 'image,model\n');

    const r = lee('sweep', ...SETTINGS, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/4 of 4 models, 1 complete, 3 to run/);
    expect(outputs(out)).toEqual(reference);
  });

  it('--shard 0/2 and --shard 1/2 write the files of the unsharded run between them', SLOW, async () => {
    const out = join(dir, 'sharded');
    const [a, b] = await Promise.all([leeAsync('sweep', ...SETTINGS, '--out', out, '--shard', '0/2'), leeAsync('sweep', ...SETTINGS, '--out', out, '--shard', '1/2')]);
    expect(a!.code, a!.stderr).toBe(0);
    expect(b!.code, b!.stderr).toBe(0);
    expect(a!.stderr).toMatch(/shard 0\/2 \(--shard\): 2 of 4 models/);
    // every n-th model from the i-th: shard 0 has the list's first and third
    expect(a!.stderr).toMatch(/ mixer-a: .* mixer-b: /s);
    expect(b!.stderr).toMatch(/ vit-a: .* vit-b: /s);
    expect(outputs(out)).toEqual(reference);
  });

  it('lee summary merges the sweep: per-model means and medians, accuracy, and the figures', () => {
    const r = lee('summary', ref);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 models \(mixer, vit\)/);
    // two models a family are too few for a correlation; all four are enough
    expect(r.stdout).toMatch(/^rotate\s+n\/a \(2\)\s+n\/a \(2\)\s+(n\/a|-?[\d.]+) \(4\)$/m);
    const sum = join(ref, 'summary');
    const table = parseCsv(readFileSync(join(sum, 'summary.csv'), 'utf8'));
    expect(table.rows.map((x) => x.model)).toEqual([...names].sort());
    for (const row of table.rows) {
      const per = parseCsv(reference[`${row.model}.csv`] as string);
      const meta = reference[`${row.model}.json`] as Record<string, any>;
      const mean = (c: string) => per.rows.reduce((a, x) => a + Number(x[c]), 0) / per.rows.length;
      const sorted = (c: string) => per.rows.map((x) => Number(x[c])).sort((p, q) => p - q);
      expect(row.id).toBe(meta.model);
      expect(row.family).toBe(meta.sweep.family);
      expect(Number(row.params)).toBe(meta.sweep.parameters);
      expect(Number(row.images)).toBe(4);
      expect(Number(row.acc)).toBeCloseTo(meta.top1_accuracy, 12);
      expect(Number(row.acc)).toBeCloseTo(mean('acc'), 12);
      for (const c of metricColumns(per.columns)) {
        expect(Number(row[`${c}_mean`]), `${row.model} ${c}`).toBeCloseTo(mean(c), 12);
        const s = sorted(c);
        expect(Number(row[`${c}_median`]), `${row.model} ${c}`).toBeCloseTo((s[1]! + s[2]!) / 2, 12);
      }
    }

    const svg = (f: string) => readFileSync(join(sum, f), 'utf8');
    const points = (s: string) => [...s.matchAll(/<circle class="point" data-model="([^"]+)" data-family="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    const rot = svg('lie_rotate.svg');
    expect(points(rot).sort()).toEqual(['mixer-a:mixer', 'mixer-b:mixer', 'vit-a:vit', 'vit-b:vit']);
    expect(rot).toMatch(/<text class="axis-label"[^>]*>top-1 accuracy \(%\)<\/text>/);
    expect(rot).toMatch(/<text class="axis-label"[^>]*>mean \|L p\| \(rot_deriv, log\)<\/text>/);
    const grid = svg('lie_vs_accuracy.svg');
    expect([...grid.matchAll(/<g class="panel" data-generator="(\w+)"/g)].map((m) => m[1])).toHaveLength(10);
    expect(points(grid)).toHaveLength(40);
    const lw = svg('layerwise_rotate.svg');
    expect([...lw.matchAll(/<polyline class="series" data-model="([^"]+)"/g)].map((m) => m[1]).sort()).toEqual([...names].sort());
    expect(lw).toMatch(/<text class="axis-label"[^>]*>relative depth \(layer order, 0 = first, 1 = last\)<\/text>/);
    expect(structure(rot)).toMatchInlineSnapshot(`
      {
        "elements": {
          "circle.point": 4,
          "g.legend": 1,
          "rect": 4,
          "svg": 1,
          "text": 1,
          "text.axis-label": 2,
          "text.legend-entry": 2,
          "text.subtitle": 1,
          "text.title": 1,
          "title": 4,
        },
        "texts": [
          "title: rotate: Lie derivative against top-1 accuracy",
          "subtitle: Spearman ρ # (n=#) over all models",
          "axis-label: top-1 accuracy (%)",
          "axis-label: mean |L p| (rot_deriv, log)",
          "legend-entry: mixer: ρ # (n=#)",
          "legend-entry: vit: ρ # (n=#)",
        ],
      }
    `);
    expect(structure(lw)).toMatchInlineSnapshot(`
      {
        "elements": {
          "g.legend": 1,
          "polyline.series": 4,
          "rect": 2,
          "svg": 1,
          "text": 1,
          "text.axis-label": 2,
          "text.legend-entry": 4,
          "text.subtitle": 1,
          "text.title": 1,
          "title": 4,
        },
        "texts": [
          "title: Layerwise attribution (rotate): share against relative depth",
          "subtitle: share ||c_i|| / sum_j ||c_j||, mean over images; # model(s)",
          "axis-label: relative depth (layer order, # = first, # = last)",
          "axis-label: mean share",
          "legend-entry: mixer-a (mixer)",
          "legend-entry: mixer-b (mixer)",
          "legend-entry: vit-a (vit)",
          "legend-entry: vit-b (vit)",
        ],
      }
    `);
  });
});

// CI starts Slurm (.ci/run, .ci/slurm-up.sh) and must run this; elsewhere it is skipped
// with the reason when no cluster answers.
const slurm = slurmStatus();
const slurmRequired = process.env.CI === 'true' || process.env.LEE_REQUIRE_SLURM === '1';
if (!slurm.ok && !slurmRequired) console.warn(`skipping the Slurm test: ${slurm.why}`);

describe('lee sweep on Slurm', () => {
  it.skipIf(!slurm.ok && !slurmRequired)('runs the --print-slurm script as a 2-task job array, which writes the files of the unsharded run', SLOW, () => {
    expect(slurm.ok, `Slurm is required here (CI=true or LEE_REQUIRE_SLURM=1) but ${slurm.why}`).toBe(true);
    const out = join(dir, 'slurm');
    const p = lee('sweep', ...SETTINGS, '--out', out, '--shards', '2', '--print-slurm');
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^#SBATCH --array=0-1$/m);
    expect(p.stdout).toMatch(/ --shards 2$/m);
    const script = join(dir, 'sweep.sbatch');
    writeFileSync(script, p.stdout);
    const t0 = performance.now();
    const r = spawnSync('sbatch', ['--wait', '--parsable', script], { cwd: dir, encoding: 'utf8', timeout: 880_000 });
    const job = r.stdout.trim().split(';')[0];
    const logs = existsSync(out) ? readdirSync(out).filter((n) => /^slurm-.*\.log$/.test(n)).sort() : [];
    const logText = logs.map((n) => `--- ${n}\n${readFileSync(join(out, n), 'utf8')}`).join('\n');
    if (r.status !== 0 && job) spawnSync('scancel', [job]);
    expect(r.status, `sbatch --wait: ${r.stderr}\n${logText}`).toBe(0);
    console.log(`2-task Slurm array of the fixture sweep: ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
    expect(logs).toEqual([`slurm-${job}_0.log`, `slurm-${job}_1.log`]);
    expect(logText).toMatch(/shard 0\/2 \(Slurm array\): 2 of 4 models/);
    expect(logText).toMatch(/shard 1\/2 \(Slurm array\): 2 of 4 models/);
    expect(outputs(out)).toEqual(reference);
  });
});

/** Whether this host has a Slurm cluster that takes jobs, and why not. */
function slurmStatus(): { ok: boolean; why: string } {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ok: false, why: `sinfo cannot run (${r.error.message}): apt-get install slurm-wlm munge, then .ci/slurm-up.sh` };
  if (r.status !== 0) return { ok: false, why: `sinfo fails (${(r.stderr || r.stdout).trim()}): .ci/slurm-up.sh starts a one-node cluster` };
  if (!/^(idle|mixed|allocated)/m.test(r.stdout)) return { ok: false, why: `no node takes jobs (sinfo: ${r.stdout.trim() || 'none'})` };
  return { ok: true, why: '' };
}

/** An SVG's structure, not its pixels: element counts by tag and class (grid lines and
 * ticks aside: the data sets how many), and the texts with their numbers masked. */
function structure(svg: string): { elements: Record<string, number>; texts: string[] } {
  const elements: Record<string, number> = {};
  for (const m of svg.matchAll(/<(\w+)(?:\s[^>]*?class="([^"]+)")?/g)) {
    const key = m[2] ? `${m[1]}.${m[2]}` : m[1]!;
    if (key !== 'line' && key !== 'text.tick') elements[key] = (elements[key] ?? 0) + 1;
  }
  const texts = [...svg.matchAll(/<text class="(title|subtitle|axis-label|legend-entry)"[^>]*>([^<]*)<\/text>/g)].map((m) => `${m[1]}: ${m[2]!.replace(/(?<=^|[\s(=])-?\d[\d.e-]*/g, '#').replace(/= #|n\/a/g, '#')}`);
  return { elements, texts };
}
