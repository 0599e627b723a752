// The page a pairing link opens on the phone (`/pair#ID.SECRET`): it takes the code out of the
// address bar at once, pairs this device (its own key, SPAKE2 with the server; see device.ts)
// and opens Flightdeck, or says why it could not.

import { useEffect, useRef, useState } from 'react';
import { pair } from './device';

export function PairPage() {
  const [state, setState] = useState<{ ok: boolean; text: string } | null>(null);
  // Once per page: a second run (React's development double effects) would find the code gone.
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const code = location.hash.replace(/^#/, '');
    // The code is single use; it should not stay in the history or be bookmarked.
    history.replaceState(null, '', '/pair');
    if (!code) {
      setState({ ok: false, text: 'This pairing link has no code: scan the QR code again, or pair from Devices on your Flightdeck.' });
      return;
    }
    pair(code).then(
      (p) => {
        // Long enough to compare the key with the one the desk lists under Devices.
        setState({ ok: true, text: `Paired as ${p.name} (key ${p.fingerprint}); the desk lists the same key under Devices.` });
        setTimeout(() => location.replace('/'), 8000);
      },
      (e: Error) => setState({ ok: false, text: e.message }),
    );
  }, []);
  return (
    <main className="pair-page" data-testid="pair-page">
      <h1>Flightdeck</h1>
      {state ? (
        <>
          <p className={state.ok ? 'notice ok' : 'detail-error'} data-testid="pair-result">
            {state.text}
          </p>
          {state.ok ? (
            <p>
              <a className="button primary" href="/" data-testid="pair-continue">
                Open Flightdeck
              </a>
            </p>
          ) : null}
        </>
      ) : (
        <p>Pairing this device…</p>
      )}
    </main>
  );
}
