// Pure geometry for the small hand-written SVG charts (no chart library): cumulative series,
// scaling into a box and SVG path strings. Kept free of React so it can be unit-tested.

export type Point = { x: number; y: number };
export type Box = { width: number; height: number; pad: number };

/**
 * Running total of `cost_usd` at each point's time: `[{x: at, y: total so far}]`. Points are
 * sorted by time (the server sends them oldest first, but a stable sort costs nothing); entries
 * with a non-finite time or cost are skipped.
 */
export function cumulative(points: { at: number; cost_usd: number }[]): Point[] {
  const clean = points.filter((p) => Number.isFinite(p.at) && Number.isFinite(p.cost_usd));
  const sorted = clean.map((p, i) => ({ p, i })).sort((a, b) => a.p.at - b.p.at || a.i - b.i);
  let total = 0;
  return sorted.map(({ p }) => {
    total += p.cost_usd;
    return { x: p.at, y: total };
  });
}

/**
 * Maps data points into a `box` (SVG coordinates, y grows downward). The domain defaults to the
 * points' own extent; `domain` widens it (for example to the run's start and end). A flat or
 * single-point axis does not divide by zero: x collapses to the right edge, y to the bottom.
 * The y axis always includes zero.
 */
export function scale(
  points: Point[],
  box: Box,
  domain: { x0?: number; x1?: number; y1?: number } = {},
): Point[] {
  if (points.length === 0) return [];
  // Loops, not Math.min(...xs): long sessions have thousands of requests.
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = 0;
  let y1 = 0;
  for (const p of points) {
    x0 = Math.min(x0, p.x);
    x1 = Math.max(x1, p.x);
    y0 = Math.min(y0, p.y);
    y1 = Math.max(y1, p.y);
  }
  if (domain.x0 !== undefined && Number.isFinite(domain.x0)) x0 = Math.min(x0, domain.x0);
  if (domain.x1 !== undefined && Number.isFinite(domain.x1)) x1 = Math.max(x1, domain.x1);
  if (domain.y1 !== undefined && Number.isFinite(domain.y1)) y1 = Math.max(y1, domain.y1);
  const innerW = Math.max(0, box.width - 2 * box.pad);
  const innerH = Math.max(0, box.height - 2 * box.pad);
  const sx = (x: number) => (x1 > x0 ? box.pad + ((x - x0) / (x1 - x0)) * innerW : box.pad + innerW);
  const sy = (y: number) => (y1 > y0 ? box.pad + innerH - ((y - y0) / (y1 - y0)) * innerH : box.pad + innerH);
  return points.map((p) => ({ x: sx(p.x), y: sy(p.y) }));
}

function num(n: number): string {
  // One decimal is plenty on screen and keeps paths short; avoid "-0".
  const r = Math.round(n * 10) / 10;
  return String(Object.is(r, -0) ? 0 : r);
}

/** `M x,y L x,y ...` through the points; empty for no points. */
export function linePath(points: Point[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${num(p.x)},${num(p.y)}`).join(' ');
}

/**
 * A step line: the value holds until the next point, then jumps (right for cost that is billed
 * at a moment in time). `M x0,y0 H x1 V y1 H x2 V y2 ...`.
 */
export function stepPath(points: Point[]): string {
  if (points.length === 0) return '';
  const parts = [`M${num(points[0].x)},${num(points[0].y)}`];
  for (const p of points.slice(1)) parts.push(`H${num(p.x)}`, `V${num(p.y)}`);
  return parts.join(' ');
}

/** Closes a line path down to `baseline` for a filled area under it; empty for no points. */
export function areaPath(line: string, points: Point[], baseline: number): string {
  if (points.length === 0 || !line) return '';
  const first = points[0];
  const last = points[points.length - 1];
  return `${line} L${num(last.x)},${num(baseline)} L${num(first.x)},${num(baseline)} Z`;
}

/** Cost per model over a timeline, most expensive first (ties by name). */
export function costByModel(points: { model: string; cost_usd: number; tokens: number }[]): { model: string; cost_usd: number; tokens: number; requests: number }[] {
  const by = new Map<string, { model: string; cost_usd: number; tokens: number; requests: number }>();
  for (const p of points) {
    const key = p.model || 'unknown';
    const e = by.get(key) ?? { model: key, cost_usd: 0, tokens: 0, requests: 0 };
    e.cost_usd += Number.isFinite(p.cost_usd) ? p.cost_usd : 0;
    e.tokens += Number.isFinite(p.tokens) ? p.tokens : 0;
    e.requests += 1;
    by.set(key, e);
  }
  return [...by.values()].sort((a, b) => b.cost_usd - a.cost_usd || a.model.localeCompare(b.model));
}
