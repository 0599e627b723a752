import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './testStorage';
import { DESKTOP_BASE, chartUrl, errorFromBody, forgetKept, keep, kept, parseEvent, resolveBase, runPath } from './api';

describe('resolveBase', () => {
  it('is same-origin in the browser', () => {
    expect(resolveBase({ protocol: 'http:', tauriInternals: false })).toBe('');
  });
  it('uses the custom scheme in the desktop app', () => {
    expect(resolveBase({ protocol: 'tauri:', tauriInternals: false })).toBe(DESKTOP_BASE);
    expect(resolveBase({ protocol: 'http:', tauriInternals: true })).toBe('flightdeck://localhost');
  });
});

describe('errorFromBody', () => {
  it('reads the API error shape', () => {
    const e = errorFromBody(404, '{"error":{"code":"not_found","message":"no such view"}}');
    expect(e.code).toBe('not_found');
    expect(e.message).toBe('no such view');
    expect(e.status).toBe(404);
  });
  it('falls back to the status for other bodies', () => {
    expect(errorFromBody(502, 'Bad Gateway').message).toBe('HTTP 502: Bad Gateway');
    expect(errorFromBody(500, '').message).toBe('HTTP 500');
  });
});

describe('parseEvent', () => {
  it('accepts JSON text and objects', () => {
    const ev = { type: 'changed', source: 'git', topics: ['repos', 'changes'] };
    expect(parseEvent(JSON.stringify(ev))).toEqual(ev);
    expect(parseEvent(ev)).toEqual(ev);
  });
  it('rejects anything else', () => {
    expect(parseEvent('nope')).toBeNull();
    expect(parseEvent({ type: 'changed' })).toBeNull();
    expect(parseEvent(null)).toBeNull();
  });
});

describe('runPath', () => {
  it('encodes the run id as one path segment', () => {
    expect(runPath('claude:0b7e-11')).toBe('/api/runs/claude%3A0b7e-11');
    expect(runPath('codex:a/b?c#d')).toBe('/api/runs/codex%3Aa%2Fb%3Fc%23d');
  });
});

describe('chartUrl', () => {
  it('names the chart and busts the cache by version', () => {
    expect(chartUrl('agent-share.svg')).toBe('/api/charts/agent-share.svg');
    expect(chartUrl('agent-share.svg', 3)).toBe('/api/charts/agent-share.svg?v=3');
  });
});

describe('keep', () => {
  it('keeps the last answer of a view and, past the quota, lets the oldest go', () => {
    const s = new MemoryStorage(400);
    keep('/api/inbox', '{"items":[1]}', s);
    expect(JSON.parse(kept('/api/inbox', s)!.body)).toEqual({ items: [1] });
    keep('/api/changes', 'x'.repeat(150), s);
    // No room for both: the inbox (older) goes, the newest is kept.
    keep('/api/releases', 'y'.repeat(150), s);
    expect(kept('/api/releases', s)?.body).toBe('y'.repeat(150));
    expect(kept('/api/inbox', s)).toBeNull();
    forgetKept(s);
    expect(kept('/api/releases', s)).toBeNull();
  });
});
