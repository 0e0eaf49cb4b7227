import { esc, fmt, linearTicks, logTicks, PALETTE, tickLabel } from './svg.js';
import { familyCorrelations, type LayerShare, type SummaryRow } from './summary.js';
import { COLUMN, type Generator } from './transforms.js';

/** The paper's figures as plain SVG (any browser or rsvg opens them): every model one
 * `<circle class="point">` (a `<polyline class="series">` in the layerwise figure) with
 * its values in a tooltip, the axes' labels `<text class="axis-label">`. */

const FONT = 'font-family="sans-serif" font-size="11"';

/** Families in first-seen order, each its own colour in every figure. */
export function familyColours(families: readonly string[]): Map<string, string> {
  const unique = [...new Set(families)];
  return new Map(unique.map((f, i) => [f, PALETTE[i % PALETTE.length]!]));
}

interface Point {
  x: number;
  y: number;
  colour: string;
  model: string;
  family: string;
  tip: string;
}

interface Frame {
  width: number;
  height: number;
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  x: { ticks: number[]; lo: number; hi: number };
  y: { ticks: number[]; lo: number; hi: number };
  yLog: boolean;
}

const M = { left: 62, right: 14, top: 40, bottom: 42 };

/** A panel's axes, ticks and labels; returns the markup and its two scales. */
function axes(f: Frame): { svg: string[]; sx: (v: number) => number; sy: (v: number) => number } {
  const w = f.width - M.left - M.right;
  const h = f.height - M.top - M.bottom;
  const sx = (v: number) => M.left + ((v - f.x.lo) / (f.x.hi - f.x.lo)) * w;
  const ty = (v: number) => (f.yLog ? Math.log10(v) : v);
  const sy = (v: number) => M.top + h - ((ty(v) - ty(f.y.lo)) / (ty(f.y.hi) - ty(f.y.lo))) * h;
  const out: string[] = [];
  out.push(`<text class="title" x="${M.left}" y="16" font-size="13" font-weight="bold">${esc(f.title)}</text>`);
  if (f.subtitle) out.push(`<text class="subtitle" x="${M.left}" y="31">${esc(f.subtitle)}</text>`);
  for (const t of f.y.ticks) {
    const y = sy(t).toFixed(2);
    out.push(`<line x1="${M.left}" x2="${M.left + w}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text class="tick" x="${M.left - 5}" y="${(Number(y) + 4).toFixed(2)}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of f.x.ticks) {
    const x = sx(t).toFixed(2);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + h}" stroke="#f0f0f0"/>`);
    out.push(`<text class="tick" x="${x}" y="${M.top + h + 14}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${w}" height="${h}" fill="none" stroke="#000000"/>`);
  out.push(`<text class="axis-label" x="${M.left + w / 2}" y="${f.height - 8}" text-anchor="middle">${esc(f.xLabel)}</text>`);
  out.push(`<text class="axis-label" transform="translate(14 ${M.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>`);
  return { svg: out, sx, sy };
}

const wrap = (width: number, height: number, body: readonly string[]): string =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');

const rhoText = (rho: number, n: number): string => (n >= 3 && Number.isFinite(rho) ? `ρ = ${rho.toFixed(2)}` : `ρ n/a`) + ` (n=${n})`;

/** One generator's scatter of mean |L p| (log) against top-1 accuracy, models coloured
 * by family. Returns the panel's markup at the origin and how many models it drops
 * (no accuracy, or a mean that a log axis cannot show). */
function liePanel(rows: readonly SummaryRow[], g: Generator, colours: Map<string, string>, width: number, height: number, title: string) {
  const column = COLUMN[g];
  const usable = rows.filter((r) => r.acc !== undefined && (r.stats[column]?.mean ?? 0) > 0);
  const points: Point[] = usable.map((r) => ({
    x: 100 * r.acc!,
    y: r.stats[column]!.mean,
    colour: colours.get(r.family)!,
    model: r.model,
    family: r.family,
    tip: `${r.model} (${r.family}, ${r.id}): top-1 ${(100 * r.acc!).toFixed(1)}%, ${column} mean ${r.stats[column]!.mean.toExponential(3)}, median ${r.stats[column]!.median.toExponential(3)}, ${r.images} images`,
  }));
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const all = familyCorrelations(rows, column).find((c) => c.family === 'all')!;
  const frame: Frame = {
    width,
    height,
    title,
    subtitle: `Spearman ${rhoText(all.rho, all.n)} over all models`,
    xLabel: 'top-1 accuracy (%)',
    yLabel: `mean |L p| (${column}, log)`,
    x: accuracyAxis(xs),
    y: ys.length ? logTicks(Math.min(...ys), Math.max(...ys)) : logTicks(1e-3, 1),
    yLog: true,
  };
  const { svg, sx, sy } = axes(frame);
  for (const p of points) {
    svg.push(
      `<circle class="point" data-model="${esc(p.model)}" data-family="${esc(p.family)}" cx="${sx(p.x).toFixed(2)}" cy="${sy(p.y).toFixed(2)}" r="4" fill="${p.colour}" fill-opacity="0.85" stroke="#ffffff" stroke-width="0.5"><title>${esc(p.tip)}</title></circle>`,
    );
  }
  return { svg, dropped: rows.length - usable.length };
}

/** Top-1 accuracy (%) ticks around the models', padded so no point sits on the frame. */
function accuracyAxis(xs: readonly number[]): Frame['x'] {
  if (!xs.length) return linearTicks(0, 100, 4);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const pad = Math.max(2, 0.05 * (hi - lo));
  return linearTicks(lo - pad, hi + pad, 4);
}

/** A legend: a swatch (a square, or a line with `dash` for a series) and a text each. */
function legend(x: number, y: number, entries: readonly { colour: string; text: string; dash?: string }[], heading: string): string[] {
  const out = [`<g class="legend" transform="translate(${x} ${y})">`, `<text font-weight="bold">${esc(heading)}</text>`];
  entries.forEach((e, k) => {
    if (e.dash === undefined) out.push(`<rect x="0" y="${8 + k * 16}" width="10" height="10" fill="${e.colour}"/>`);
    else out.push(`<line x1="0" x2="22" y1="${13 + k * 16}" y2="${13 + k * 16}" stroke="${e.colour}" stroke-width="2" stroke-dasharray="${e.dash}"/>`);
    out.push(`<text class="legend-entry" x="${e.dash === undefined ? 16 : 28}" y="${17 + k * 16}">${esc(e.text)}</text>`);
  });
  out.push('</g>');
  return out;
}

/** The paper's main figure for one generator: each model's mean |L p| over the images
 * (log scale) against its top-1 accuracy, coloured by family, with Spearman's
 * correlation per family in the legend. */
export function lieAccuracySvg(rows: readonly SummaryRow[], g: Generator): string {
  const colours = familyColours(rows.map((r) => r.family));
  const panel = liePanel(rows, g, colours, 560, 420, `${g}: Lie derivative against top-1 accuracy`);
  const corr = familyCorrelations(rows, COLUMN[g]).filter((c) => c.family !== 'all');
  const entries = corr.map((c) => ({ colour: colours.get(c.family)!, text: `${c.family}: ${rhoText(c.rho, c.n)}` }));
  const note = panel.dropped ? [`<text x="576" y="${72 + entries.length * 16}" font-size="10">${panel.dropped} model(s) without accuracy or a positive value not shown</text>`] : [];
  return wrap(820, 420, [...panel.svg, ...legend(576, 48, entries, 'family: Spearman ρ'), ...note]);
}

/** Every generator's panel in one figure (the paper's Figure 3 layout), families
 * coloured alike throughout. */
export function lieAccuracyGridSvg(rows: readonly SummaryRow[], gens: readonly Generator[]): string {
  const colours = familyColours(rows.map((r) => r.family));
  const cols = Math.min(4, gens.length);
  const pw = 300;
  const ph = 270;
  const body: string[] = [];
  gens.forEach((g, k) => {
    const panel = liePanel(rows, g, colours, pw, ph, g);
    body.push(`<g class="panel" data-generator="${g}" transform="translate(${(k % cols) * pw} ${Math.floor(k / cols) * ph})">`, ...panel.svg, '</g>');
  });
  const entries = [...colours].map(([family, colour]) => ({ colour, text: `${family} (${rows.filter((r) => r.family === family).length})` }));
  const width = cols * pw + 170;
  const height = Math.max(Math.ceil(gens.length / cols) * ph, 60 + entries.length * 16);
  return wrap(width, height, [...body, ...legend(cols * pw + 16, 48, entries, 'family (models)')]);
}

/** Each model's mean share per layer against the layer's relative depth (0 first, 1
 * last) for one generator, one line per model coloured by family. */
export function layerDepthSvg(models: readonly { model: string; family: string; layers: readonly LayerShare[] }[], transform: string): string {
  const colours = familyColours(models.map((m) => m.family));
  const shares = models.flatMap((m) => m.layers.map((l) => l.share));
  const frame: Frame = {
    width: 640,
    height: 420,
    title: `Layerwise attribution (${transform}): share against relative depth`,
    subtitle: `share ||c_i|| / sum_j ||c_j||, mean over images; ${models.length} model(s)`,
    xLabel: 'relative depth (layer order, 0 = first, 1 = last)',
    yLabel: 'mean share',
    x: { ticks: [0, 0.25, 0.5, 0.75, 1], lo: 0, hi: 1 },
    y: linearTicks(0, Math.max(1e-12, ...shares), 5),
    yLog: false,
  };
  const { svg, sx, sy } = axes(frame);
  // models of one family share its colour and differ in dash
  const dashes = ['none', '6 3', '2 2', '9 3 2 3', '4 4 1 4'];
  const dash = models.map((m, i) => dashes[models.slice(0, i).filter((o) => o.family === m.family).length % dashes.length]!);
  for (const [i, m] of models.entries()) {
    const colour = colours.get(m.family)!;
    const pts = m.layers.map((l) => `${sx(l.depth).toFixed(2)},${sy(l.share).toFixed(2)}`).join(' ');
    const top = [...m.layers].sort((a, b) => b.share - a.share).slice(0, 3).map((l) => `${l.layer} ${fmt(l.share)}`).join(', ');
    svg.push(
      `<polyline class="series" data-model="${esc(m.model)}" data-family="${esc(m.family)}" points="${pts}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-opacity="0.85" stroke-dasharray="${dash[i]}"><title>${esc(`${m.model} (${m.family}): ${m.layers.length} layers; largest ${top}`)}</title></polyline>`,
    );
  }
  const few = models.length <= 16;
  const entries = few ? models.map((m, i) => ({ colour: colours.get(m.family)!, text: `${m.model} (${m.family})`, dash: dash[i]! })) : [...colours].map(([f, c]) => ({ colour: c, text: f }));
  return wrap(900, 420, [...svg, ...legend(656, 48, entries, few ? 'model (colour: family)' : 'family')]);
}
