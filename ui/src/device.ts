// This device's own key, once paired (see `crates/core/src/model/device.rs` for what it signs).
// The key pair is made here with WebCrypto as not extractable: the page (and any script that
// ever gets into it) can ask for signatures but never read the private key out. It lives in
// IndexedDB, the one browser store that keeps a CryptoKey as is; it signs offline too, so a
// decision taken with no connection is signed when it is taken.

import { DeviceHalf, fromHex, passwordScalar, toHex } from './pake';

const DB = 'flightdeck-device';
const STORE = 'keys';
const ID = 'device';

type Stored = { keys: CryptoKeyPair; publicHex: string; name: string };

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function open(): Promise<IDBDatabase> | null {
  if (typeof indexedDB === 'undefined') return null;
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** One request on the key store, settled when its transaction is done (a write is on disk
 * then); `null` when this browser has no IndexedDB. */
async function withStore<T>(mode: IDBTransactionMode, act: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
  const opening = open();
  if (!opening) return null;
  const db = await opening;
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? req.error);
      tx.onabort = () => reject(tx.error ?? new Error('the key store refused the write'));
    });
  } finally {
    db.close();
  }
}

let cached: Promise<Stored | null> | null = null;

/** This device's key, if it was paired. */
export function device(): Promise<Stored | null> {
  cached ??= withStore<Stored | undefined>('readonly', (s) => s.get(ID))
    .then((d) => d ?? null)
    .catch(() => null);
  return cached;
}

/** Forgets this device's key (signing out: a new pairing makes a new one). */
export async function forgetDevice(): Promise<void> {
  cached = Promise.resolve(null);
  await withStore('readwrite', (s) => s.delete(ID)).catch(() => undefined);
}

async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

async function sign(keys: CryptoKeyPair, text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign(SIGN, keys.privateKey, new TextEncoder().encode(text))));
}

function nonce(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return toHex(b);
}

/** The headers that sign one request (none when this device is not paired). `url` is what
 * fetch is given; the server checks the path and query as sent. */
export async function signedHeaders(method: string, url: string, body: string): Promise<Record<string, string>> {
  const d = await device();
  if (!d) return {};
  const u = new URL(url, location.href);
  const at = Date.now();
  const n = nonce();
  const message = `flightdeck-request/1\n${method}\n${u.pathname}${u.search}\n${at}\n${n}\n${await sha256Hex(body)}`;
  return {
    'X-Flightdeck-Time': String(at),
    'X-Flightdeck-Nonce': n,
    'X-Flightdeck-Signature': await sign(d.keys, message),
  };
}

/** What a decision's statement says (the server rebuilds it from the request to compare). */
function statement(path: string, body: Record<string, unknown>): Record<string, unknown> | null {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const change = /^\/api\/changes\/([^/]+)\/actions$/.exec(path);
  if (change) {
    return {
      what: 'flightdeck-decision/1',
      kind: str(body.kind) ?? '',
      target: decodeURIComponent(change[1]),
      head: str(body.head_sha),
      key: str(body.idempotency_key),
      comment: str(body.comment),
      method: str(body.method),
      override_reason: str(body.override_reason),
      send_back: str(body.send_back),
      at: Date.now(),
    };
  }
  const release = /^\/api\/releases\/([^/]+)\/decision$/.exec(path);
  if (release) {
    return {
      what: 'flightdeck-decision/1',
      kind: body.approve ? 'release_approve' : 'release_reject',
      target: decodeURIComponent(release[1]),
      head: str(body.sha),
      comment: str(body.reason) ?? '',
      at: Date.now(),
    };
  }
  return null;
}

/** A decision with this device's signature of it, when paired: taken offline, it is signed now
 * and sent later as it was. */
export async function signDecision(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const d = await device();
  const s = d && !body.signed ? statement(path, body) : null;
  if (!d || !s) return body;
  const text = JSON.stringify(s);
  return { ...body, signed: { statement: text, signature: await sign(d.keys, text) } };
}

export type Paired = { name: string; fingerprint: string };

/** Pairs this device with the code from the pairing link (`ID.SECRET`): makes its key, runs
 * SPAKE2 with the server, checks the server knew the code, and keeps the key. */
export async function pair(code: string): Promise<Paired> {
  const [id, secret] = code.trim().split('.');
  if (!id || !secret) throw new Error('This pairing link is incomplete: scan the code again.');
  if (!crypto?.subtle) {
    throw new Error('This page is not in a secure context (HTTPS), so it cannot make a key: open the link over HTTPS.');
  }
  // Where the key will live must work before anything is spent: a code used up by a phone
  // that cannot keep its key would leave a session it can never sign for.
  const probe = await withStore('readonly', (s) => s.count()).catch(() => null);
  if (probe === null) {
    throw new Error('This browser cannot keep a key for this site (private browsing, or site storage off): pairing needs it. Nothing was used; try a normal window.');
  }
  const keys = (await crypto.subtle.generateKey(ECDSA, false, ['sign', 'verify'])) as CryptoKeyPair;
  const publicHex = toHex(new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey)));
  const half = new DeviceHalf(await passwordScalar(secret));
  const post = async (path: string, body: unknown) => {
    const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json().catch(() => ({}))) as { error?: { message?: string } } & Record<string, unknown>;
    if (!res.ok) throw new Error(json.error?.message ?? `Pairing failed (HTTP ${res.status}).`);
    return json;
  };
  const started = await post('/pair/start', { code_id: id, message: toHex(half.message) });
  const k = await half.finish(fromHex(String(started.message)), new TextEncoder().encode(publicHex));
  const done = await post('/pair/finish', {
    exchange: started.exchange,
    device_key: publicHex,
    confirmation: toHex(k.deviceConfirms),
  });
  if (done.confirmation !== toHex(k.serverConfirms)) {
    throw new Error('The server did not prove it made this pairing code: this device was not paired. Pair again from your Flightdeck.');
  }
  const session = done.session as { label?: string } | undefined;
  const name = session?.label ?? 'this device';
  const stored = await withStore('readwrite', (s) => s.put({ keys, publicHex, name } satisfies Stored, ID)).catch(() => null);
  if (stored === null) {
    throw new Error('Paired, but this browser did not keep the key: sign this device out from Devices on your Flightdeck and pair again.');
  }
  cached = Promise.resolve({ keys, publicHex, name });
  return { name, fingerprint: await fingerprint(publicHex) };
}

/** A key's short name (as `flightdeck devices list` and `audit verify` print it): the first 16
 * hex digits of the SHA-256 of its hex. */
export async function fingerprint(publicHex: string): Promise<string> {
  return (await sha256Hex(publicHex)).slice(0, 16);
}
