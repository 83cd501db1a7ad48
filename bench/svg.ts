/**
 * A small SVG line chart writer for the scaling curves in bench/*.svg: linear axes from
 * zero, round-number ticks, one polyline with dots per series, and a legend. Plain SVG 1.1
 * with no scripts or external fonts, so GitHub and any browser show it as it is.
 */

/** One curve: its name and its points, x ascending. */
export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** index into the palette; by default the series' own index */
  color?: number;
}

/** What a chart shows. */
export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const W = 640;
const PLOT_H = 270;
const PAD = { left: 70, right: 20, top: 40 };
const LEGEND_LINE = 18;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** A step of 1, 2 or 5 times a power of ten that splits [0, max] into about 5 ticks. */
export function niceStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
}

/** The chart as an SVG document. */
export function lineChart(c: Chart): string {
  const all = c.series.flatMap((s) => s.points);
  const xStep = niceStep(Math.max(...all.map((p) => p[0])));
  const yStep = niceStep(Math.max(...all.map((p) => p[1])));
  const xMax = Math.ceil(Math.max(...all.map((p) => p[0])) / xStep) * xStep;
  const yMax = Math.ceil(Math.max(...all.map((p) => p[1])) / yStep) * yStep;
  const [pw, ph] = [W - PAD.left - PAD.right, PLOT_H];
  const H = PAD.top + ph + 56 + c.series.length * LEGEND_LINE;
  const sx = (x: number) => PAD.left + (x / xMax) * pw;
  const sy = (y: number) => PAD.top + ph - (y / yMax) * ph;
  const out: string[] = [];

  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" ` +
    `font-weight="bold">${esc(c.title)}</text>`);
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) {
    out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${sy(y)}" y2="${sy(y)}" ` +
      `stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${sy(y) + 4}" text-anchor="end">${num(y)}</text>`);
  }
  for (let x = 0; x <= xMax + xStep / 2; x += xStep) {
    out.push(`<text x="${sx(x)}" y="${PAD.top + ph + 16}" text-anchor="middle">${num(x)}</text>`);
  }
  out.push(`<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + ph}" ` +
    `stroke="#333"/>`);
  out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + ph}" ` +
    `y2="${PAD.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${PAD.left + pw / 2}" y="${PAD.top + ph + 36}" text-anchor="middle">` +
    `${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${PAD.top + ph / 2}) rotate(-90)" ` +
    `text-anchor="middle">${esc(c.yLabel)}</text>`);

  c.series.forEach((s, i) => {
    const color = COLORS[(s.color ?? i) % COLORS.length];
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const [x, y] of s.points) {
      out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" ` +
        `fill="${color}"/>`);
    }
    const lx = PAD.left;
    const ly = PAD.top + ph + 56 + i * LEGEND_LINE;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" ` +
      `stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${esc(s.name)}</text>`);
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function num(x: number): string {
  return Number(x.toPrecision(6)).toLocaleString('en-US');
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
