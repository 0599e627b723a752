// Notifications out: the channels (and why one sends nothing), the rules, quiet hours and the
// digest limit as configured, what was sent lately with each one's status, and "Send a test"
// per channel (queued: the outcome appears in the list when the channel has answered).

import { useCallback, useEffect, useState } from 'react';
import { ApiError, getJson, postJson, subscribeChanges } from './api';
import { absoluteTime } from './format';
import type { NotificationsView } from './generated/NotificationsView';

export function NotificationsPanel({ onClose }: { onClose: () => void }) {
  const [view, setView] = useState<NotificationsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [queued, setQueued] = useState<string | null>(null);
  const load = useCallback(() => {
    getJson<NotificationsView>('/api/notifications').then(setView, (e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);
  useEffect(
    () =>
      subscribeChanges((e) => {
        if (!e || e.topics.includes('notifications')) load();
      }),
    [load],
  );
  const test = (channel: string) =>
    postJson('/api/notifications/test', { channel }).then(
      () => setQueued(channel),
      (e: unknown) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-label="Notifications" data-testid="notifications" onClick={onClose}>
      <div className="help devices" onClick={(e) => e.stopPropagation()}>
        <h2>Notifications</h2>
        {error ? <p className="detail-error">{error}</p> : null}
        {view && view.channels.length === 0 ? (
          <p className="muted">
            No channel is configured. Add <code>[notify.channels.NAME]</code> and <code>[[notify.rules]]</code> to the config
            file (docs/notifications.md).
          </p>
        ) : null}
        {view && view.channels.length > 0 ? (
          <>
            <table className="grid" data-testid="notify-channels">
              <thead>
                <tr>
                  <th>Channel</th>
                  <th>Sends to</th>
                  <th>Last sent</th>
                  <th>State</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {view.channels.map((c) => (
                  <tr key={c.name} data-testid="notify-channel">
                    <td>
                      <strong>{c.name}</strong> <span className="muted small">{c.kind}</span>
                    </td>
                    <td>
                      <code className="small">{c.target}</code>
                    </td>
                    <td>{c.last_sent ? absoluteTime(c.last_sent) : <span className="muted">never</span>}</td>
                    <td>
                      {c.problem ? (
                        <span className="detail-error">{c.problem}</span>
                      ) : c.last_error ? (
                        <span className="detail-error">failing: {c.last_error}</span>
                      ) : (
                        <span>ready</span>
                      )}
                    </td>
                    <td>
                      <button type="button" disabled={Boolean(c.problem)} onClick={() => void test(c.name)}>
                        Send a test
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {queued ? <p className="small muted">A test to {queued} is on its way; it shows below once sent.</p> : null}
            <h3>Rules</h3>
            <ul className="plain small" data-testid="notify-rules">
              {view.rules.length === 0 ? <li className="muted">none: nothing is sent</li> : null}
              {view.rules.map((r, i) => (
                <li key={i}>
                  {r.events.join(', ')} of {r.repos.length ? r.repos.join(', ') : 'every repo'} → {r.channels.join(', ')}
                </li>
              ))}
              <li className="muted">
                quiet hours: {view.quiet_hours ?? 'none'}
                {view.utc_offset ? ` (UTC${view.utc_offset})` : ''} · a digest after {view.digest_after} an hour per channel
              </li>
            </ul>
            <h3>Sent lately</h3>
            <table className="grid small" data-testid="notify-sent">
              <tbody>
                {view.recent.map((n) => (
                  <tr key={`${n.channel}/${n.subject}@${n.version}`} data-testid="notify-row">
                    <td>{absoluteTime(n.sent_at ?? n.claimed_at)}</td>
                    <td>{n.channel}</td>
                    <td>{n.kind}</td>
                    <td>
                      {n.status}
                      {n.via === 'digest' ? ' (digest)' : ''}
                      {n.state === 'resolved' ? ' · resolved' : ''}
                    </td>
                    <td>
                      {n.title}
                      {n.last_error && n.status !== 'sent' ? <div className="detail-error">{n.last_error}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </div>
    </div>
  );
}
