import { COLUMN, GENERATORS } from './transforms.js';
import type { E2EImageResult } from './e2e.js';

/** The mean-squared (Eq. 4) variant of a generator's column. */
export const msqColumn = (column: string): string => column.replace(/_(deriv|err)$/, '_$1_msq');

/** CSV header: image, model, the seed's columns in its order, ours, then the
 * mean-squared variants, then any extra (sample-based) metrics. */
export function e2eColumns(extra: readonly string[] = []): string[] {
  const mean = GENERATORS.map((g) => COLUMN[g]);
  return ['image', 'model', ...mean, ...mean.map(msqColumn), ...extra];
}

/** A CSV field: numbers as JavaScript prints them (empty when not finite), text quoted
 * where it must be. */
export function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One row per image; generators that were not requested stay empty. */
export function e2eCsv(model: string, rows: readonly E2EImageResult[], extra: readonly Record<string, number>[] = []): string {
  const extraNames = extra.length ? Object.keys(extra[0]!) : [];
  const lines = [e2eColumns(extraNames).join(',')];
  rows.forEach((r, i) => {
    const values = [
      r.image,
      model,
      ...GENERATORS.map((g) => r.meanAbs[g]),
      ...GENERATORS.map((g) => r.meanSq[g]),
      ...extraNames.map((k) => extra[i]?.[k]),
    ];
    lines.push(values.map(csvCell).join(','));
  });
  return lines.join('\n') + '\n';
}
