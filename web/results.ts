import { COLUMN, GENERATORS, type Generator } from '../lee/transforms.js';
import type { LabelledSource } from '../lee/sources.js';
import type { ModelRun, RunSettings } from './run.js';
import { tangentImages } from './run.js';
import { barChart, h, imageTable, inputCanvas, summaryTable, tangentCanvas } from './view.js';

/** Per-image cards (input, the ten G x, the bar chart) for the first this many images;
 * the table and the downloads have them all. */
export const CARDS = 8;

export interface Shown {
  runs: ModelRun[];
  sources: LabelledSource[];
  settings: RunSettings;
}

const el = (id: string) => document.getElementById(id)!;

/** Draw a finished run: the per-model summary (several models), the chosen model's
 * per-image table, and a card per image with the preprocessed input, its ten tangent
 * images G x and a bar chart of its mean |L p| per generator. */
export async function renderResults(f: Shown, m: number): Promise<void> {
  const run = f.runs[m]!;
  const source = f.sources[m]!;
  const gens = f.settings.transforms;
  el('summary').replaceChildren(...(f.runs.length > 1 ? [summaryTable(f.runs, gens)] : []));
  const line = el('result-model-line');
  line.hidden = f.runs.length < 2;
  const choose = el('result-model') as HTMLSelectElement;
  if (choose.options.length !== f.runs.length || choose.options[0]?.text !== f.runs[0]!.plan.id) {
    choose.replaceChildren(...f.runs.map((r, i) => h('option', { value: i }, r.plan.id)));
  }
  choose.value = String(m);
  el('table').replaceChildren(imageTable(run, gens));

  const n = Math.min(CARDS, source.names.length);
  const size = source.size;
  const x = await source.load(0, n);
  const t = await tangentImages(x, n, size, GENERATORS, f.settings.interp);
  const per = 3 * size[0] * size[1];
  const pre = run.plan.preprocess;
  const cards = [];
  for (let i = 0; i < n; i++) {
    const img = run.result.images[i]!;
    const p = run.predictions[i]!;
    const tiles = GENERATORS.map((g, k) => {
      const { canvas, peak } = tangentCanvas(t, (k * n + i) * per, size, pre);
      canvas.title = `${g} x: largest |G x| ${peak.toFixed(2)} (8-bit levels per unit t)`;
      return h('figure', {}, canvas, h('figcaption', {}, g.replace('_', ' ')));
    });
    const top = p.top1Name !== undefined ? `${p.top1} ${p.top1Name}` : `class ${p.top1}`;
    const label = p.label === undefined ? '' : p.acc === 1 ? ' (correct)' : ` (label ${p.label})`;
    const bars = barChart(gens.map((g: Generator) => ({ label: COLUMN[g], value: img.meanAbs[g] ?? 0 })));
    cards.push(
      h(
        'article',
        { class: 'card', 'data-image': img.image },
        h('h3', {}, img.image, h('span', {}, ` top-1 ${top}${label}`)),
        h(
          'div',
          { class: 'card-body' },
          h('figure', { class: 'input' }, inputCanvas(x, i * per, size, pre), h('figcaption', {}, `input ${size[1]} px`)),
          h('div', { class: 'tangents' }, ...tiles),
          h('div', { class: 'chart' }, h('p', {}, `mean |L p| (${run.plan.id})`), bars),
        ),
      ),
    );
  }
  const more = source.names.length > n ? h('p', { class: 'hint' }, `cards for the first ${n} of ${source.names.length} images; the table and the downloads hold all of them`) : null;
  el('cards').replaceChildren(...cards, ...(more ? [more] : []));
  el('results').hidden = false;
  el('results').dataset.model = run.plan.id;
}
