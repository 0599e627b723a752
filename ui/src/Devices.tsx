// The browsers and phones signed in to this Flightdeck (a browser only: the desktop window has
// no sessions): when each was last seen, signing one out, pairing a phone with a QR code, and
// signing this browser out (which also forgets what this device kept for offline reading).

import { useCallback, useEffect, useState } from 'react';
import { ApiError, forgetKept, getJson, postJson } from './api';
import { absoluteTime } from './format';
import { fingerprint, forgetDevice } from './device';
import { forgetPending, loadPending } from './pending';

type Session = { id: string; label: string; created_at: number; last_seen: number; expires_at: number; device_key: string | null };
type Me = { kind: 'desktop' | 'token' | 'session'; session: Session | null };
type Pairing = { url: string; svg: string; expires_at: number; ca_url: string | null; tls_fingerprint: string | null };

export function DevicesPanel({ onClose }: { onClose: () => void }) {
  const [list, setList] = useState<Session[] | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [pairing, setPairing] = useState<Pairing | null>(null);
  const load = useCallback(() => {
    Promise.all([getJson<Session[]>('/api/sessions'), getJson<Me>('/api/session')]).then(
      ([l, m]) => {
        setList(l);
        setMe(m);
      },
      (e: Error) => setError(e.message),
    );
  }, []);
  useEffect(load, [load]);
  const act = (p: Promise<unknown>, then: () => void) =>
    p.then(then, (e: unknown) => setError(e instanceof ApiError ? e.message : String(e)));
  const revoke = (id: string) => act(postJson(`/api/sessions/${encodeURIComponent(id)}/revoke`, {}), load);
  const signOut = () => {
    const waiting = loadPending().length;
    if (waiting && !confirm(`${waiting} decision(s) kept on this device have not been sent; signing out discards them.`)) return;
    // Whatever the server says: nothing of this session stays on a device being handed on.
    const clear = () => {
      forgetKept();
      forgetPending();
      void forgetDevice().finally(() => location.reload());
    };
    void postJson('/api/session/logout', {}).then(clear, clear);
  };
  const pair = () => act(postJson<Pairing>('/api/session/pair', name.trim() ? { name: name.trim() } : {}).then(setPairing), () => undefined);
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-label="Devices" data-testid="devices" onClick={onClose}>
      <div className="help devices" onClick={(e) => e.stopPropagation()}>
        <h2>Devices</h2>
        {error ? <p className="detail-error">{error}</p> : null}
        {list ? (
          <ul className="plain" data-testid="device-list">
            {list.map((s) => (
              <li key={s.id} data-testid="device">
                <strong>{s.label}</strong>
                {me?.session?.id === s.id ? <span className="muted"> (this one)</span> : null}
                {s.device_key ? <DeviceKey hex={s.device_key} /> : null}
                <br />
                <span className="muted small">
                  signed in {absoluteTime(s.created_at)} · last seen {absoluteTime(s.last_seen)} · <code>{s.id}</code>
                </span>{' '}
                {me?.session?.id === s.id ? null : (
                  <button type="button" onClick={() => void revoke(s.id)}>
                    Sign out
                  </button>
                )}
              </li>
            ))}
          </ul>
        ) : null}
        <h3>Pair a phone</h3>
        <div className="actions-bar">
          <input aria-label="Device name" placeholder="Name (e.g. Ana's phone)" value={name} onChange={(e) => setName(e.target.value)} />
          <button type="button" className="primary" onClick={() => void pair()}>
            Pair
          </button>
        </div>
        {pairing ? (
          <div data-testid="pairing">
            <img className="qr" alt="QR code of the pairing link" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(pairing.svg)}`} />
            <p className="small">
              Scan it with the phone's camera before {absoluteTime(pairing.expires_at)}: the phone makes a key of its own and
              pairs once. The code after <code>#</code> never leaves the phone; it signs every request and decision from then
              on.{' '}
              <code data-testid="pairing-url">{pairing.url}</code>
            </p>
            {pairing.ca_url ? (
              <p className="small">
                This server's certificate was made here: on the phone, first install <a href={pairing.ca_url}>its CA certificate</a>{' '}
                so the browser trusts it (a service worker and the phone's own key need a connection the phone trusts).
              </p>
            ) : null}
            {pairing.tls_fingerprint ? (
              <p className="small" data-testid="tls-fingerprint">
                Certificate SHA-256 (compare with what the phone's browser shows): <code>{pairing.tls_fingerprint}</code>
              </p>
            ) : null}
          </div>
        ) : null}
        {me?.kind === 'session' ? (
          <p>
            <button type="button" onClick={() => void signOut()} data-testid="sign-out">
              Sign this browser out
            </button>
          </p>
        ) : null}
      </div>
    </div>
  );
}

/** A paired device's key by fingerprint: the same on the phone's pairing page, in `flightdeck
 * devices list` and in `audit verify`, so the lead can tell the phone's key from any other. */
function DeviceKey({ hex }: { hex: string }) {
  const [fp, setFp] = useState('');
  useEffect(() => {
    void fingerprint(hex).then(setFp, () => setFp(''));
  }, [hex]);
  return (
    <span className="muted small" data-testid="device-key" title="Paired: its requests and decisions are signed with a key only it holds">
      {' '}
      · key <code>{fp || '…'}</code>
    </span>
  );
}
