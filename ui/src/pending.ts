// Decisions taken with no connection (a phone on a train): kept on this device with the
// idempotency key they were made with, and sent when it reconnects, into the same outbox as any
// other. The server takes a key once, so a decision whose answer was lost and is sent again is
// not applied twice. One the server refuses by then (the change moved, the policy says no) is
// shown refused until dismissed, never dropped.

import { ApiError, forgetKept, postJson } from './api';
import { signDecision } from './device';

export type PendingDecision = {
  /** The idempotency key: one per decision, made when it was taken. */
  key: string;
  /** Where it goes: `/api/changes/{id}/actions` or `/api/releases/{id}/decision`. */
  path: string;
  body: Record<string, unknown>;
  /** What it was, in words ("approve acme-api#12"). */
  label: string;
  taken_at: number;
  state: 'waiting' | 'refused';
  error?: string;
};

const STORE_KEY = 'flightdeck.pending-decisions';
const listeners = new Set<(p: PendingDecision[]) => void>();

/** A new idempotency key (32 hex digits; the server takes 16 to 64 of [A-Za-z0-9_-]). */
export function newKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function loadPending(): PendingDecision[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
    return Array.isArray(parsed) ? (parsed as PendingDecision[]) : [];
  } catch {
    return [];
  }
}

/** Writes the list; true when it is stored. A full storage first lets the kept views go (they
 * are copies; a decision is not), then tries again. */
function save(list: PendingDecision[]): boolean {
  let stored = false;
  for (let tries = 0; tries < 2 && !stored; tries++) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(list));
      stored = true;
    } catch {
      forgetKept();
    }
  }
  listeners.forEach((l) => l(list));
  return stored;
}

/** Forgets every decision kept here (signing out on a shared device: nobody else sends them). */
export function forgetPending() {
  try {
    localStorage.removeItem(STORE_KEY);
  } catch {
    // nothing stored
  }
  listeners.forEach((l) => l([]));
}

export function onPending(l: (p: PendingDecision[]) => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** No answer at all (offline, server down), as opposed to an answer that says no. */
export function isUnreachable(e: unknown): boolean {
  // `http_5xx`: a proxy's page, not Flightdeck's JSON answer.
  return e instanceof ApiError && (e.code === 'unreachable' || e.status === 0 || e.code.startsWith('http_5'));
}

/**
 * Sends a decision now; with no connection keeps it on this device and resolves `kept`.
 * The key goes with the first try too, so a try whose answer was lost and the later resend are
 * one decision.
 */
export async function decideOrKeep<T>(
  path: string,
  body: Record<string, unknown>,
  label: string,
): Promise<{ sent: T } | { kept: PendingDecision }> {
  // Signed now, as taken (a paired device's key signs offline too); sent later as it is.
  const keyed = await signDecision(path, { ...body, idempotency_key: (body.idempotency_key as string | undefined) ?? newKey() });
  try {
    return { sent: await postJson<T>(path, keyed) };
  } catch (e) {
    if (!isUnreachable(e)) throw e;
    const p: PendingDecision = {
      key: String(keyed.idempotency_key),
      path,
      body: keyed,
      label,
      taken_at: Math.floor(Date.now() / 1000),
      state: 'waiting',
    };
    if (!save([...loadPending(), p])) {
      throw new ApiError('not_kept', `No connection, and this device could not keep the decision (its storage is full or off): ${label} was not taken.`, 0);
    }
    return { kept: p };
  }
}

/** What a view says of a decision it kept instead of sending. */
export function keptNotice(p: PendingDecision): string {
  return `No connection: ${p.label} kept on this device; sent when it reconnects.`;
}

/** What one pass of [`flush`] did. */
export type Flushed = { sent: number; refused: number; waiting: number };

let flushing: Promise<Flushed> | null = null;

/** Sends every waiting decision, oldest first; stops at the first that gets no answer. */
export function flush(send: (path: string, body: unknown) => Promise<unknown> = postJson): Promise<Flushed> {
  flushing ??= (async () => {
    const out: Flushed = { sent: 0, refused: 0, waiting: 0 };
    for (const p of loadPending()) {
      if (p.state !== 'waiting') continue;
      try {
        await send(p.path, p.body);
        save(loadPending().filter((q) => q.key !== p.key));
        out.sent++;
      } catch (e) {
        if (isUnreachable(e)) break;
        save(loadPending().map((q) => (q.key === p.key ? { ...q, state: 'refused', error: (e as Error).message } : q)));
        out.refused++;
      }
    }
    out.waiting = loadPending().filter((p) => p.state === 'waiting').length;
    return out;
  })().finally(() => {
    flushing = null;
  });
  return flushing;
}

/** Lets a refused decision go (it was read). */
export function dismiss(key: string) {
  save(loadPending().filter((p) => p.key !== key));
}

/** Sends what waits when the device comes back online, at start, and every 30 s meanwhile. */
export function startFlushing(onDone: (f: Flushed) => void): () => void {
  const run = () => {
    if (loadPending().some((p) => p.state === 'waiting')) void flush().then(onDone);
  };
  window.addEventListener('online', run);
  const timer = setInterval(run, 30_000);
  run();
  return () => {
    window.removeEventListener('online', run);
    clearInterval(timer);
  };
}
