import { csvCell, msqColumn, PREDICTION_COLUMNS } from './report.js';
import { COLUMN, GENERATORS, type Generator } from './transforms.js';

/** One model of a finished sweep: its metadata and its per-image e2e CSV rows (the
 * columns of `lee e2e --out`), with its layerwise CSV rows per generator where it has
 * them. */
export interface SweepModel {
  /** the sweep's name for it (its files' stem) */
  name: string;
  /** the CSV's model column: hub id, arch.tag or architecture */
  id: string;
  architecture: string;
  family: string;
  params: number;
  rows: readonly Record<string, string>[];
  layerwise: readonly { transform: string; rows: readonly Record<string, string>[] }[];
}

export interface Stat {
  mean: number;
  median: number;
}

/** A model's line of the merged table. */
export interface SummaryRow {
  model: string;
  id: string;
  architecture: string;
  family: string;
  params: number;
  images: number;
  /** top-1 accuracy over the labelled images (0..1), undefined when none is labelled */
  acc?: number;
  labelled: number;
  /** per metric column: mean and median over images (undefined if any image lacks it) */
  stats: Record<string, Stat | undefined>;
}

/** The per-image columns that are not metrics. */
const NOT_METRICS = new Set<string>(['image', 'model', ...PREDICTION_COLUMNS]);

/** The metric columns of an e2e CSV header, in its order: the Lie derivatives (mean
 * |L p|, then the mean squared) and any sample-based metrics. */
export const metricColumns = (header: readonly string[]): string[] => header.filter((c) => !NOT_METRICS.has(c));

export function mean(v: readonly number[]): number {
  return v.reduce((a, x) => a + x, 0) / v.length;
}

export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Ranks 1..n, ties sharing their mean rank (as scipy.stats.rankdata). */
export function ranks(v: readonly number[]): number[] {
  const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(v.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation (Pearson's on the ranks, ties averaged, as
 * scipy.stats.spearmanr); NaN for fewer than two points or a constant side. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error('spearman: lengths differ');
  if (x.length < 2) return NaN;
  const rx = ranks(x);
  const ry = ranks(y);
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** A column's values over images, or undefined unless every image has a number. */
function columnValues(rows: readonly Record<string, string>[], column: string): number[] | undefined {
  const v = rows.map((r) => (r[column] === undefined || r[column] === '' ? NaN : Number(r[column])));
  return v.length && v.every(Number.isFinite) ? v : undefined;
}

/** Each model's line: mean and median over its images of every metric column, and its
 * top-1 accuracy over the labelled images. */
export function summarise(models: readonly SweepModel[], columns: readonly string[]): SummaryRow[] {
  return models.map((m) => {
    const labelled = m.rows.filter((r) => r.acc !== undefined && r.acc !== '');
    const stats: Record<string, Stat | undefined> = {};
    for (const c of columns) {
      const v = columnValues(m.rows, c);
      stats[c] = v && { mean: mean(v), median: median(v) };
    }
    return {
      model: m.name,
      id: m.id,
      architecture: m.architecture,
      family: m.family,
      params: m.params,
      images: m.rows.length,
      labelled: labelled.length,
      ...(labelled.length ? { acc: mean(labelled.map((r) => Number(r.acc))) } : {}),
      stats,
    };
  });
}

/** The merged table: one row per model, `<column>_mean` and `<column>_median` for
 * every metric column. */
export function summaryCsv(rows: readonly SummaryRow[], columns: readonly string[]): string {
  const head = ['model', 'id', 'architecture', 'family', 'params', 'images', 'labelled', 'acc', ...columns.flatMap((c) => [`${c}_mean`, `${c}_median`])];
  const lines = [head.join(',')];
  for (const r of rows) {
    const cells = [r.model, r.id, r.architecture, r.family, r.params, r.images, r.labelled, r.acc, ...columns.flatMap((c) => [r.stats[c]?.mean, r.stats[c]?.median])];
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}

/** The generators whose mean |L p| column some model has. */
export function summarisedGenerators(rows: readonly SummaryRow[]): Generator[] {
  return GENERATORS.filter((g) => rows.some((r) => r.stats[COLUMN[g]] !== undefined));
}

export const lieColumns = (): string[] => [...GENERATORS.map((g) => COLUMN[g]), ...GENERATORS.map((g) => msqColumn(COLUMN[g]))];

export interface FamilyCorrelation {
  family: string;
  /** models with both an accuracy and the column's mean */
  n: number;
  rho: number;
}

/** Spearman's correlation of top-1 accuracy with a column's mean over images, per
 * family (first-seen order) and over all models ('all'). */
export function familyCorrelations(rows: readonly SummaryRow[], column: string): FamilyCorrelation[] {
  const usable = rows.filter((r) => r.acc !== undefined && r.stats[column] !== undefined);
  const families = [...new Set(rows.map((r) => r.family))];
  const corr = (family: string, set: readonly SummaryRow[]): FamilyCorrelation => ({
    family,
    n: set.length,
    rho: spearman(set.map((r) => r.acc!), set.map((r) => r.stats[column]!.mean)),
  });
  return [...families.map((f) => corr(f, usable.filter((r) => r.family === f))), corr('all', usable)];
}

/** One layer of a model's layerwise run, averaged over its images. */
export interface LayerShare {
  layer: string;
  type: string;
  order: number;
  /** order / (layers - 1): 0 at the first layer, 1 at the last */
  depth: number;
  share: number;
  sqNorm: number;
}

/** A layerwise CSV's (lee layerwise --out) layers in network order, each with its mean
 * share and mean ||c_i||^2 over the images. */
export function layerShares(rows: readonly Record<string, string>[]): LayerShare[] {
  const byLayer = new Map<string, { type: string; order: number; share: number[]; sq: number[] }>();
  for (const r of rows) {
    const l = byLayer.get(r.layer!) ?? { type: r.type!, order: Number(r.order), share: [], sq: [] };
    l.share.push(Number(r.share));
    l.sq.push(Number(r.sq_norm));
    byLayer.set(r.layer!, l);
  }
  const layers = [...byLayer].sort((a, b) => a[1].order - b[1].order);
  const n = layers.length;
  return layers.map(([layer, l], i) => ({
    layer,
    type: l.type,
    order: l.order,
    depth: n > 1 ? i / (n - 1) : 0,
    share: mean(l.share),
    sqNorm: mean(l.sq),
  }));
}

/** The merged layerwise table: per model, generator and layer, the mean share and
 * ||c_i||^2 over images and the layer's relative depth. */
export function layerwiseSummaryCsv(models: readonly SweepModel[]): string {
  const lines = ['model, id, family, transform, layer, type, order, depth, share_mean, sq_norm_mean'.replace(/ /g, '')];
  for (const m of models) {
    for (const lw of m.layerwise) {
      for (const l of layerShares(lw.rows)) {
        lines.push([m.name, m.id, m.family, lw.transform, l.layer, l.type, l.order, l.depth, l.share, l.sqNorm].map(csvCell).join(','));
      }
    }
  }
  return lines.join('\n') + '\n';
}
