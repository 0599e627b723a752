import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { decideOrKeep, flush, loadPending, newKey } from './pending';
import { MemoryStorage } from './testStorage';

const offline = () => Promise.reject(new ApiError('unreachable', 'Cannot reach the Flightdeck server', 0));

beforeEach(() => {
  (globalThis as { localStorage?: unknown }).localStorage = new MemoryStorage();
  (globalThis as { fetch?: unknown }).fetch = offline;
});

describe('newKey', () => {
  it('is 32 hex digits, new each time', () => {
    const a = newKey();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newKey()).not.toBe(a);
  });
});

describe('decisions with no connection', () => {
  it('are kept with their key and sent in order when the device reconnects', async () => {
    const first = await decideOrKeep('/api/changes/a/actions', { kind: 'approve' }, 'approve a');
    const second = await decideOrKeep('/api/releases/R1/decision', { approve: true }, 'approve R1');
    expect('kept' in first && 'kept' in second).toBe(true);
    const kept = loadPending();
    expect(kept.map((p) => p.label)).toEqual(['approve a', 'approve R1']);
    expect(kept[0].body.idempotency_key).toBe(kept[0].key);

    // Still offline: nothing sent, nothing lost.
    expect(await flush(offline)).toEqual({ sent: 0, refused: 0, waiting: 2 });

    // Back: each sent once, with the key it was taken with.
    const sent: [string, unknown][] = [];
    const online = async (path: string, body: unknown) => {
      sent.push([path, body]);
      return {};
    };
    expect(await flush(online)).toEqual({ sent: 2, refused: 0, waiting: 0 });
    expect(sent.map(([p, b]) => [p, (b as { idempotency_key: string }).idempotency_key])).toEqual([
      ['/api/changes/a/actions', kept[0].key],
      ['/api/releases/R1/decision', kept[1].key],
    ]);
    expect(loadPending()).toEqual([]);
  });

  it('one refused when sent is shown refused, never dropped; the rest go on', async () => {
    await decideOrKeep('/api/changes/a/actions', { kind: 'merge' }, 'merge a');
    await decideOrKeep('/api/changes/b/actions', { kind: 'approve' }, 'approve b');
    const send = async (path: string) => {
      if (path.includes('/a/')) throw new ApiError('moved', 'a moved since it was shown', 409);
      return {};
    };
    expect(await flush(send)).toEqual({ sent: 1, refused: 1, waiting: 0 });
    const left = loadPending();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ label: 'merge a', state: 'refused', error: 'a moved since it was shown' });
  });

  it('an answer that says no is not kept: it is the answer', async () => {
    (globalThis as { fetch?: unknown }).fetch = async () =>
      new Response('{"error":{"code":"policy","message":"needs 2 approvals"}}', { status: 409 });
    await expect(decideOrKeep('/api/changes/a/actions', { kind: 'merge' }, 'merge a')).rejects.toThrow('needs 2 approvals');
    expect(loadPending()).toEqual([]);
  });
});

describe('a full device', () => {
  it('lets kept views go before it loses a decision, and says so when even that is not enough', async () => {
    const small = new MemoryStorage(600);
    (globalThis as { localStorage?: unknown }).localStorage = small;
    small.setItem('flightdeck.kept:/api/changes', 'x'.repeat(450));
    const got = await decideOrKeep('/api/changes/a/actions', { kind: 'approve' }, 'approve a');
    expect('kept' in got).toBe(true);
    expect(small.getItem('flightdeck.kept:/api/changes')).toBeNull();
    expect(loadPending()).toHaveLength(1);
    (globalThis as { localStorage?: unknown }).localStorage = new MemoryStorage(10);
    await expect(decideOrKeep('/api/changes/b/actions', { kind: 'approve' }, 'approve b')).rejects.toThrow('could not keep');
  });
});
