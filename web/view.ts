import { COLUMN, type Generator } from '../lee/transforms.js';
import { meanOverImages, labelledAccuracy } from '../lee/report.js';
import type { Preprocess } from '../models/spec.js';
import type { ModelRun } from './run.js';

// Drawing the results: plain DOM, no framework.

type Attrs = Record<string, string | number | boolean | undefined>;

/** An element with attributes and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== false) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** Four significant digits on the page; the cell keeps the full value in data-value. */
export const fmt = (v: number): string => (Number.isFinite(v) ? (v === 0 ? '0' : v.toExponential(3)) : '');

function numberCell(v: number | undefined): HTMLTableCellElement {
  return h('td', { class: 'num', 'data-value': v === undefined ? '' : String(v) }, v === undefined ? '' : fmt(v));
}

/** The per-model summary of a several-model run (the demo): accuracy and each
 * generator's mean |L p| over the images, as `lee e2e` prints it. */
export function summaryTable(runs: readonly ModelRun[], gens: readonly Generator[]): HTMLTableElement {
  const head = h('tr', {}, h('th', {}, 'model'), h('th', {}, 'acc'), ...gens.map((g) => h('th', { title: g }, COLUMN[g])));
  const rows = runs.map((r) => {
    const acc = labelledAccuracy(r.predictions);
    return h(
      'tr',
      { 'data-model': r.plan.id },
      h('td', {}, r.plan.id),
      h('td', { class: 'num', 'data-value': acc ? String(acc.correct / acc.labelled) : '' }, acc ? `${((100 * acc.correct) / acc.labelled).toFixed(1)}%` : ''),
      ...gens.map((g) => numberCell(meanOverImages(r.result.images, g))),
    );
  });
  return h('table', { class: 'results', id: 'summary-table' }, h('caption', {}, `mean |L p| over ${runs[0]!.result.images.length} images per model (lower: more invariant)`), h('thead', {}, head), h('tbody', {}, ...rows));
}

/** One model's per-image table: mean |L p| per generator under the CSV's column
 * names, the top-1 class and, for labelled images, the label. */
export function imageTable(run: ModelRun, gens: readonly Generator[]): HTMLTableElement {
  const labelled = run.predictions.some((p) => p.label !== undefined);
  const head = h('tr', {}, h('th', {}, 'image'), h('th', {}, 'top1'), labelled ? h('th', {}, 'label') : null, ...gens.map((g) => h('th', { title: g }, COLUMN[g])));
  const rows = run.result.images.map((img, i) => {
    const p = run.predictions[i]!;
    const top = p.top1Name !== undefined ? `${p.top1} ${p.top1Name}` : String(p.top1);
    return h(
      'tr',
      { 'data-image': img.image },
      h('td', {}, img.image),
      h('td', { 'data-top1': p.top1 }, top),
      labelled ? h('td', { class: p.acc === 1 ? 'ok' : p.acc === 0 ? 'wrong' : '' }, p.label === undefined ? '' : String(p.label)) : null,
      ...gens.map((g) => numberCell(img.meanAbs[g])),
    );
  });
  const acc = labelledAccuracy(run.predictions);
  const accCell = acc ? `${((100 * acc.correct) / acc.labelled).toFixed(1)}% correct` : '';
  const mean = run.result.images.length > 1 ? h('tr', { class: 'mean' }, h('td', {}, 'mean'), h('td', {}, accCell), labelled ? h('td') : null, ...gens.map((g) => numberCell(meanOverImages(run.result.images, g)))) : null;
  const about = `${run.plan.id}${run.plan.random ? ' (RANDOM weights, seed 0: not a trained model)' : ''}: mean |L p| per image (lower: more invariant)`;
  return h('table', { class: 'results', id: 'image-table', 'data-model': run.plan.id }, h('caption', {}, about), h('thead', {}, head), h('tbody', {}, ...rows, mean));
}

/** A preprocessed image [3, H, W] back in colour (normalisation undone). */
export function inputCanvas(x: Float32Array, offset: number, size: [number, number], pre: Preprocess): HTMLCanvasElement {
  const [hh, ww] = size;
  const canvas = h('canvas', { width: ww, height: hh, class: 'input' });
  const img = new ImageData(ww, hh);
  const plane = hh * ww;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(255 * (x[offset + c * plane + i]! * pre.std[c]! + pre.mean[c]!));
    img.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
  return canvas;
}

/** A diverging map: blue for negative, white at 0, red for positive (t in [-1, 1]). */
function diverging(t: number): [number, number, number] {
  const a = Math.min(1, Math.abs(t));
  return t >= 0 ? [255, Math.round(255 * (1 - a)), Math.round(255 * (1 - a))] : [Math.round(255 * (1 - a)), Math.round(255 * (1 - a)), 255];
}

/** G x for one image (in 8-bit pixel units, summed over the channels), colour-mapped on
 * a symmetric scale of its own largest magnitude. */
export function tangentCanvas(t: Float32Array, offset: number, size: [number, number], pre: Preprocess): { canvas: HTMLCanvasElement; peak: number } {
  const [hh, ww] = size;
  const plane = hh * ww;
  const v = new Float32Array(plane);
  let peak = 0;
  for (let i = 0; i < plane; i++) {
    let sum = 0;
    for (let c = 0; c < 3; c++) sum += t[offset + c * plane + i]! * pre.std[c]! * 255;
    v[i] = sum / 3;
    peak = Math.max(peak, Math.abs(v[i]!));
  }
  const canvas = h('canvas', { width: ww, height: hh, class: 'tangent' });
  const img = new ImageData(ww, hh);
  for (let i = 0; i < plane; i++) {
    const [r, g, b] = diverging(peak > 0 ? v[i]! / peak : 0);
    img.data.set([r, g, b, 255], 4 * i);
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
  return { canvas, peak };
}

/** One image's mean |L p| per generator as horizontal bars (largest = full width). */
export function barChart(values: readonly { label: string; value: number }[]): SVGSVGElement {
  const rowH = 15;
  const labelW = 150;
  const barW = 150;
  const width = labelW + barW + 70;
  const height = values.length * rowH + 4;
  const peak = Math.max(...values.map((v) => v.value), 1e-30);
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'bars', role: 'img' });
  values.forEach((v, i) => {
    const y = 2 + i * rowH;
    const w = Math.max(1, (v.value / peak) * barW);
    svg.append(
      s('text', { x: labelW - 4, y: y + 11, 'text-anchor': 'end' }, v.label),
      s('rect', { x: labelW, y: y + 2, width: w.toFixed(1), height: rowH - 4, class: 'bar' }, s('title', {}, `${v.label}: ${v.value}`)),
      s('text', { x: labelW + w + 4, y: y + 11, class: 'value' }, fmt(v.value)),
    );
  });
  return svg;
}

/** A progress line: done of total, rate and time left. */
export function progressText(label: string, done: number, total: number, unit: string, startedMs: number): string {
  const s = (performance.now() - startedMs) / 1e3;
  const rate = s > 0 ? done / s : 0;
  const left = rate > 0 ? (total - done) / rate : NaN;
  const eta = !Number.isFinite(left) ? '' : left < 60 ? `, ETA ${left.toFixed(0)} s` : `, ETA ${Math.floor(left / 60)} min ${Math.round(left % 60)} s`;
  return `${label}: ${done}/${total} ${unit}${done > 0 ? `, ${rate.toFixed(rate < 10 ? 2 : 1)} ${unit}/s${done < total ? eta : `, ${s.toFixed(1)} s`}` : ''}`;
}

export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
