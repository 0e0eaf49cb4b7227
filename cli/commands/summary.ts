import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LeeError } from '../../engine/errors.js';
import { parseCsv } from '../../lee/csv.js';
import { layerDepthSvg, lieAccuracyGridSvg, lieAccuracySvg } from '../../lee/figures.js';
import { csvCell } from '../../lee/report.js';
import {
  familyCorrelations,
  layerShares,
  layerwiseSummaryCsv,
  metricColumns,
  summarise,
  summarisedGenerators,
  summaryCsv,
  type SweepModel,
} from '../../lee/summary.js';
import { COLUMN, GENERATORS } from '../../lee/transforms.js';
import { parseCommand } from '../args.js';
import { writeOutput } from '../paths.js';
import { sha256, type SweepRecord } from '../sweep/outputs.js';

export const summaryHelp = `lee summary DIR [--out FOLDER] [--quiet]

Merge a sweep's per-model outputs (lee sweep --out DIR) and draw the paper's figures.
Only models whose JSON vouches for their files (complete, unchanged) are read; others
(a run in progress or killed) are named and left out. Writes to FOLDER (default
DIR/summary):

  summary.csv          one row per model: model, id, architecture, family, params,
                       images, labelled, acc (top-1 over the labelled images), and
                       <column>_mean, <column>_median over images for every Lie
                       derivative column (and sample-based metric) of the per-model CSVs
  correlations.csv     Spearman's rank correlation of acc with each generator's mean
                       |L p|, per family and over all models
  lie_vs_accuracy.svg  every generator's panel: mean |L p| (log) against top-1 accuracy,
                       one point per model, coloured by family
  lie_<generator>.svg  one panel per generator, with Spearman's rho per family
  layerwise.csv, layerwise_<generator>.svg
                       for layerwise sweeps: each layer's mean share over images
                       against its relative depth, one line per model

Prints the correlations per family.`;

export async function summary(argv: string[]): Promise<void> {
  const f = parseCommand(argv, { out: { type: 'string' }, quiet: { type: 'boolean' } }, 'summary');
  if (f.positionals.length !== 1) throw new LeeError('summary takes one folder: lee summary DIR (the --out of lee sweep)');
  const dir = f.positionals[0]!;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeeError(`cannot read ${dir}: no such folder`);
  const outDir = f.values.out ?? join(dir, 'summary');

  const { models, skipped, images } = await readSweep(dir);
  for (const s of skipped) console.error(`note: ${s}`);
  if (!models.length) throw new LeeError(`${dir} holds no complete sweep outputs (<name>.json next to <name>.csv, as lee sweep writes them)`);
  if (images.size > 1) console.error(`warning: the models ran on ${images.size} different image sets (images' SHA-256 in their JSON); their means do not compare`);

  const columns = unionColumns(models.map((m) => metricColumns(Object.keys(m.rows[0] ?? {}))));
  const rows = summarise(models, columns);
  mkdirSync(outDir, { recursive: true });
  await writeOutput(join(outDir, 'summary.csv'), summaryCsv(rows, columns));
  const written = ['summary.csv'];

  const gens = summarisedGenerators(rows);
  const corr = ['generator,column,family,n,rho'];
  for (const g of gens) for (const c of familyCorrelations(rows, COLUMN[g])) corr.push([g, COLUMN[g], c.family, c.n, c.rho].map(csvCell).join(','));
  await writeOutput(join(outDir, 'correlations.csv'), corr.join('\n') + '\n');
  written.push('correlations.csv');

  const withAcc = rows.filter((r) => r.acc !== undefined);
  if (withAcc.length && gens.length) {
    await writeOutput(join(outDir, 'lie_vs_accuracy.svg'), lieAccuracyGridSvg(rows, gens));
    written.push('lie_vs_accuracy.svg');
    for (const g of gens) {
      await writeOutput(join(outDir, `lie_${g}.svg`), lieAccuracySvg(rows, g));
      written.push(`lie_${g}.svg`);
    }
  } else {
    console.error('note: no model has labelled images (an ImageFolder tree), so there is no accuracy axis: no Lie-vs-accuracy figures');
  }

  const lwGens = GENERATORS.filter((g) => models.some((m) => m.layerwise.some((l) => l.transform === g)));
  if (lwGens.length) {
    await writeOutput(join(outDir, 'layerwise.csv'), layerwiseSummaryCsv(models));
    written.push('layerwise.csv');
    for (const g of lwGens) {
      const series = models.flatMap((m) => m.layerwise.filter((l) => l.transform === g).map((l) => ({ model: m.name, family: m.family, layers: layerShares(l.rows) })));
      await writeOutput(join(outDir, `layerwise_${g}.svg`), layerDepthSvg(series, g));
      written.push(`layerwise_${g}.svg`);
    }
  }

  if (!f.values.quiet) {
    console.log(`${models.length} models (${[...new Set(models.map((m) => m.family))].join(', ')}); wrote ${written.join(', ')} to ${outDir}`);
    if (withAcc.length) {
      console.log("Spearman's rho of top-1 accuracy with mean |L p| (n = models with both; n/a under 3):");
      const families = [...new Set(rows.map((r) => r.family)), 'all'];
      const width = Math.max(9, ...gens.map((g) => g.length));
      console.log(`${'generator'.padEnd(width)}  ${families.map((fam) => fam.padStart(14)).join('')}`);
      for (const g of gens) {
        const byFamily = new Map(familyCorrelations(rows, COLUMN[g]).map((c) => [c.family, c]));
        const cells = families.map((fam) => {
          const c = byFamily.get(fam)!;
          return (c.n >= 3 && Number.isFinite(c.rho) ? `${c.rho.toFixed(2)} (${c.n})` : `n/a (${c.n})`).padStart(14);
        });
        console.log(`${g.padEnd(width)}  ${cells.join('')}`);
      }
    }
  }
}

/** The complete models of a sweep folder: each <name>.json with a sweep record whose
 * listed files are there with their SHA-256. */
async function readSweep(dir: string): Promise<{ models: SweepModel[]; skipped: string[]; images: Set<string> }> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  const models: SweepModel[] = [];
  const skipped: string[] = [];
  const images = new Set<string>();
  for (const n of names) {
    let meta: { model?: string; architecture?: string; sweep?: SweepRecord & { name: string; family: string; parameters: number; layerwise?: Record<string, { file: string }> } };
    try {
      meta = JSON.parse(await readFile(join(dir, n), 'utf8'));
    } catch {
      continue;
    }
    const rec = meta.sweep;
    if (!rec?.outputs || !rec.name) continue;
    const texts = new Map<string, string>();
    let bad: string | undefined;
    for (const [file, hash] of Object.entries(rec.outputs)) {
      const text = await readFile(join(dir, file), 'utf8').catch(() => undefined);
      if (text === undefined) bad = `${file} is missing`;
      else if (sha256(text) !== hash) bad = `${file} is not the file its JSON records`;
      else texts.set(file, text);
      if (bad) break;
    }
    const csvName = `${rec.name}.csv`;
    if (!bad && !texts.has(csvName)) bad = `${csvName} is not among its outputs`;
    if (bad) {
      skipped.push(`${rec.name} left out: ${bad} (a run in progress or killed? rerun lee sweep)`);
      continue;
    }
    if (rec.settings?.images) images.add(rec.settings.images.sha256);
    const layerwise = Object.entries(rec.layerwise ?? {}).map(([transform, l]) => ({ transform, rows: parseCsv(texts.get(l.file) ?? '').rows }));
    models.push({
      name: rec.name,
      id: meta.model ?? rec.name,
      architecture: meta.architecture ?? '',
      family: rec.family,
      params: rec.parameters,
      rows: parseCsv(texts.get(csvName)!).rows,
      layerwise,
    });
  }
  return { models, skipped, images };
}

/** Columns of several headers, each once, in first-seen order. */
function unionColumns(headers: readonly string[][]): string[] {
  const out: string[] = [];
  for (const h of headers) for (const c of h) if (!out.includes(c)) out.push(c);
  return out;
}
