import { describe, expect, it } from 'vitest';
import { DESKTOP_BASE, errorFromBody, parseEvent, resolveBase, withToken } from './api';

describe('resolveBase', () => {
  it('is same-origin in the browser', () => {
    expect(resolveBase({ protocol: 'http:', tauriInternals: false })).toBe('');
  });
  it('uses the custom scheme in the desktop app', () => {
    expect(resolveBase({ protocol: 'tauri:', tauriInternals: false })).toBe(DESKTOP_BASE);
    expect(resolveBase({ protocol: 'http:', tauriInternals: true })).toBe('flightdeck://localhost');
  });
});

describe('withToken', () => {
  it('appends the token as a query parameter', () => {
    expect(withToken('/api/events', null)).toBe('/api/events');
    expect(withToken('/api/events', 'a b')).toBe('/api/events?token=a%20b');
    expect(withToken('/api/charts/x.svg?v=2', 'T')).toBe('/api/charts/x.svg?v=2&token=T');
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
