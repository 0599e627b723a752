import { describe, expect, it } from 'vitest';
import { areaPath, costByModel, cumulative, linePath, scale, stepPath } from './sparkline';

const box = { width: 100, height: 50, pad: 5 };

describe('cumulative', () => {
  it('runs a total of cost over time', () => {
    expect(
      cumulative([
        { at: 10, cost_usd: 0.5 },
        { at: 20, cost_usd: 0.25 },
        { at: 30, cost_usd: 1 },
      ]),
    ).toEqual([
      { x: 10, y: 0.5 },
      { x: 20, y: 0.75 },
      { x: 30, y: 1.75 },
    ]);
  });
  it('sorts by time, keeps the order of equal times and skips bad points', () => {
    expect(
      cumulative([
        { at: 30, cost_usd: 1 },
        { at: 10, cost_usd: 2 },
        { at: 10, cost_usd: 3 },
        { at: Number.NaN, cost_usd: 5 },
        { at: 40, cost_usd: Number.POSITIVE_INFINITY },
      ]),
    ).toEqual([
      { x: 10, y: 2 },
      { x: 10, y: 5 },
      { x: 30, y: 6 },
    ]);
  });
  it('is empty for no points', () => {
    expect(cumulative([])).toEqual([]);
  });
});

describe('scale', () => {
  it('maps the extent into the padded box, y up', () => {
    expect(
      scale(
        [
          { x: 0, y: 0 },
          { x: 10, y: 2 },
          { x: 20, y: 4 },
        ],
        box,
      ),
    ).toEqual([
      { x: 5, y: 45 },
      { x: 50, y: 25 },
      { x: 95, y: 5 },
    ]);
  });
  it('always includes zero on the y axis', () => {
    const [a, b] = scale(
      [
        { x: 0, y: 2 },
        { x: 1, y: 4 },
      ],
      box,
    );
    expect(a.y).toBe(25);
    expect(b.y).toBe(5);
  });
  it('widens the x domain to the given one', () => {
    const [p] = scale([{ x: 5, y: 1 }], box, { x0: 0, x1: 10 });
    expect(p).toEqual({ x: 50, y: 5 });
  });
  it('does not divide by zero on flat or single-point data', () => {
    expect(scale([{ x: 7, y: 0 }], box)).toEqual([{ x: 95, y: 45 }]);
    const flat = scale(
      [
        { x: 1, y: 0 },
        { x: 2, y: 0 },
      ],
      box,
    );
    expect(flat.every((p) => Number.isFinite(p.x) && p.y === 45)).toBe(true);
  });
  it('is empty for no points', () => {
    expect(scale([], box)).toEqual([]);
  });
  it('copes with long series', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => ({ x: i, y: i }));
    const out = scale(many, box);
    expect(out[0]).toEqual({ x: 5, y: 45 });
    expect(out[out.length - 1]).toEqual({ x: 95, y: 5 });
  });
});

describe('paths', () => {
  const pts = [
    { x: 5, y: 45 },
    { x: 50.04, y: 25.06 },
    { x: 95, y: 5 },
  ];
  it('draws a line with one decimal', () => {
    expect(linePath(pts)).toBe('M5,45 L50,25.1 L95,5');
    expect(linePath([])).toBe('');
  });
  it('draws steps', () => {
    expect(stepPath(pts)).toBe('M5,45 H50 V25.1 H95 V5');
    expect(stepPath([{ x: 1, y: 2 }])).toBe('M1,2');
    expect(stepPath([])).toBe('');
  });
  it('closes an area down to the baseline', () => {
    const line = stepPath(pts);
    expect(areaPath(line, pts, 45)).toBe('M5,45 H50 V25.1 H95 V5 L95,45 L5,45 Z');
    expect(areaPath('', [], 45)).toBe('');
  });
  it('never prints -0', () => {
    expect(linePath([{ x: -0.01, y: -0.04 }])).toBe('M0,0');
  });
});

describe('costByModel', () => {
  it('sums cost, tokens and requests per model, most expensive first', () => {
    expect(
      costByModel([
        { model: 'haiku', cost_usd: 0.1, tokens: 100 },
        { model: 'opus', cost_usd: 2, tokens: 50 },
        { model: 'haiku', cost_usd: 0.2, tokens: 10 },
        { model: '', cost_usd: 0, tokens: 1 },
      ]),
    ).toEqual([
      { model: 'opus', cost_usd: 2, tokens: 50, requests: 1 },
      { model: 'haiku', cost_usd: expect.closeTo(0.3, 10), tokens: 110, requests: 2 },
      { model: 'unknown', cost_usd: 0, tokens: 1, requests: 1 },
    ]);
  });
});
