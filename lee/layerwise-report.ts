import { csvCell } from './report.js';
import { encodeSafetensors } from '../engine/safetensors.js';
import type { LayerwiseRun } from './layerwise.js';
import { esc, fmt, PALETTE } from './svg.js';

export const LAYERWISE_COLUMNS = ['layer', 'type', 'order', 'image', 'sq_norm', 'share', 'model', 'transform', 'residual'] as const;

/** One row per image and layer (network order within each image): the paper's
 * ||c_i||^2, the share ||c_i|| / sum_j ||c_j||, and the image's additivity residual. */
export function layerwiseCsv(run: LayerwiseRun, model: string, transform: string): string {
  const lines = [LAYERWISE_COLUMNS.join(',')];
  run.images.forEach((image, b) => {
    run.layers.forEach((l, i) => {
      const row = [l.name, l.type, l.order, image, run.sqNorm[i]![b], run.share[i]![b], model, transform, run.residual[b]];
      lines.push(row.map(csvCell).join(','));
    });
  });
  return lines.join('\n') + '\n';
}

/** Mean share of each layer over the images. */
export function meanShares(run: LayerwiseRun): number[] {
  return run.share.map((s) => s.reduce((a, v) => a + v, 0) / Math.max(1, s.length));
}

/** A bar chart of each layer's mean share in network order (the view of the paper's
 * Figure 4), coloured by module type; every bar's tooltip names the layer and its
 * values. Plain SVG: opens in any browser. */
export function layerwiseSvg(run: LayerwiseRun, model: string, transform: string): string {
  const shares = meanShares(run);
  const n = run.layers.length;
  // 12 px per layer leaves room for every layer's name under its bar
  const barW = 12;
  const left = 64;
  const top = 56;
  const plotH = 300;
  const labelH = Math.ceil(5 * Math.max(...run.layers.map((l) => l.name.length))) + 30;
  const plotW = Math.max(400, n * barW);
  const types = [...new Set(run.layers.map((l) => l.type))];
  const legendW = 190;
  const width = left + plotW + 24 + legendW;
  const height = top + plotH + labelH + 20;
  const peak = Math.max(...shares, 1e-12);
  // a round axis maximum: 1, 2 or 5 times a power of ten, at least the peak
  const p10 = 10 ** Math.floor(Math.log10(peak));
  const yMax = [1, 2, 5, 10].map((m) => m * p10).find((m) => m >= peak * (1 - 1e-9))!;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const maxResidual = Math.max(...run.residual);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(`Layerwise Lie derivative attribution: ${model}, ${transform}`)}</text>`,
    `<text x="${left}" y="40">${esc(`share ||c_i|| / sum_j ||c_j|| per layer, mean over ${run.images.length} image(s); additivity residual max ${maxResidual.toExponential(1)}`)}</text>`,
  );
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#dddddd"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">mean share</text>`);
  run.layers.forEach((l, i) => {
    const x = left + i * (plotW / n);
    const w = Math.max(1, plotW / n - 1);
    const sq = run.sqNorm[i]!.reduce((a, v) => a + v, 0) / Math.max(1, run.images.length);
    const colour = PALETTE[types.indexOf(l.type) % PALETTE.length];
    const tip = `${l.order} ${l.name} (${l.type}): mean share ${fmt(shares[i]!)}, mean ||c||^2 ${sq.toExponential(3)}`;
    out.push(`<rect x="${x.toFixed(2)}" y="${y(shares[i]!).toFixed(2)}" width="${w.toFixed(2)}" height="${(top + plotH - y(shares[i]!)).toFixed(2)}" fill="${colour}"><title>${esc(tip)}</title></rect>`);
    out.push(`<text transform="translate(${(x + w / 2 + 3).toFixed(2)} ${top + plotH + 6}) rotate(90)" font-size="9">${esc(l.name)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#000000"/>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#000000"/>`);
  const lx = left + plotW + 24;
  out.push(`<text x="${lx}" y="${top}" font-weight="bold">module type</text>`);
  types.forEach((t, k) => {
    const ly = top + 14 + k * 16;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${PALETTE[k % PALETTE.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${esc(t)}</text>`);
  });
  out.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">layer, in network order</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The raw safetensors of layerwise runs (lee layerwise --raw): per model `contrib.<layer>`
 * [N, classes] for every layer, `lie.<transform>`, `probs` and `logits`, with the layers
 * (name, type, order) and residuals in the metadata; keys prefixed `<model>.` when
 * `prefixed` (the demo's pair). */
export function layerwiseRaw(runs: readonly { model: string; run: LayerwiseRun }[], transform: string, interp: string, prefixed: boolean): Uint8Array<ArrayBuffer> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const layers: Record<string, string> = {};
  for (const { model, run } of runs) {
    const prefix = prefixed ? `${model}.` : '';
    const shape = [run.images.length, run.classes];
    tensors[`${prefix}logits`] = { shape, data: run.logits };
    tensors[`${prefix}probs`] = { shape, data: run.probs };
    tensors[`${prefix}lie.${transform}`] = { shape, data: run.lie };
    run.layers.forEach((l, i) => (tensors[`${prefix}contrib.${l.name}`] = { shape, data: run.contributions[i]! }));
    layers[`${prefix}layers`] = JSON.stringify(run.layers.map((l) => ({ name: l.name, type: l.type, order: l.order })));
    layers[`${prefix}residual`] = JSON.stringify(run.residual);
  }
  return encodeSafetensors(tensors, { model: runs.map((r) => r.model).join(','), transform, interp, ...layers });
}
