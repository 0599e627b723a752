import { useCallback, useEffect, useRef, useState, type ComponentType } from 'react';
import { api, isDesktop, isMine, setMine, subscribeChanges, subscribeOffline, subscribeStatus, type LiveStatus } from './api';
import { DevicesPanel } from './Devices';
import { NotificationsPanel } from './Notifications';
import { absoluteTime } from './format';
import type { Health } from './generated/Health';
import type { ListHandle, ViewProps } from './hooks';
import {
  GOTO_KEYS,
  VIEWS,
  handleKey,
  initialKeyState,
  isTypingTarget,
  moveSelection,
  viewFromHash,
  type ViewName,
} from './keys';
import { dismiss, loadPending, onPending, startFlushing, type PendingDecision } from './pending';
import { applyTheme, initialTheme, type Theme } from './theme';
import Agents from './views/Agents';
import Audit from './views/Audit';
import Changes from './views/Changes';
import Experiments from './views/Experiments';
import Inbox from './views/Inbox';
import Releases from './views/Releases';
import Repos from './views/Repos';
import Spend from './views/Spend';
import Velocity from './views/Velocity';
import Work from './views/Work';

/** Says when the views shown are this device's copy (no connection), and from when. */
function OfflineBanner() {
  const [since, setSince] = useState<number | null>(null);
  useEffect(() => subscribeOffline(setSince), []);
  if (since === null) return null;
  return (
    <p className="notice" data-testid="offline-banner">
      No connection: showing what was synced {absoluteTime(since)}. Decisions are kept on this device and sent when it
      reconnects.
    </p>
  );
}

/** Decisions kept on this device while it had no connection: waiting to be sent, or refused
 * by the server when they were (shown until dismissed, never dropped). */
function DevicePending({ pending }: { pending: PendingDecision[] }) {
  if (pending.length === 0) return null;
  const waiting = pending.filter((p) => p.state === 'waiting');
  const refused = pending.filter((p) => p.state === 'refused');
  return (
    <div className="notice" data-testid="device-pending" data-waiting={waiting.length} data-refused={refused.length}>
      {waiting.length ? (
        <p>
          {waiting.length} decision{waiting.length === 1 ? '' : 's'} kept on this device, sent when it reconnects:{' '}
          {waiting.map((p) => p.label).join('; ')}
        </p>
      ) : null}
      {refused.map((p) => (
        <p key={p.key} className="fail" data-testid="device-refused">
          Refused when sent: {p.label}: {p.error}{' '}
          <button type="button" onClick={() => dismiss(p.key)}>
            Dismiss
          </button>
        </p>
      ))}
    </div>
  );
}

const VIEW_COMPONENTS: Record<ViewName, ComponentType<ViewProps>> = {
  inbox: Inbox,
  changes: Changes,
  work: Work,
  agents: Agents,
  repos: Repos,
  releases: Releases,
  experiments: Experiments,
  spend: Spend,
  velocity: Velocity,
  audit: Audit,
};

const TITLES: Record<ViewName, string> = {
  inbox: 'Inbox',
  changes: 'Changes',
  work: 'Work',
  agents: 'Agents',
  repos: 'Repos',
  releases: 'Releases',
  experiments: 'Experiments',
  spend: 'Spend',
  velocity: 'Velocity',
  audit: 'Audit',
};

const LETTER: Record<ViewName, string> = Object.fromEntries(
  Object.entries(GOTO_KEYS).map(([letter, view]) => [view, letter]),
) as Record<ViewName, string>;

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: 'connecting',
  live: 'live',
  polling: 'polling 10 s',
  reconnecting: 'reconnecting',
};

function useHealth(): { health: Health | null; error: string | null } {
  const [state, setState] = useState<{ health: Health | null; error: string | null }>({ health: null, error: null });
  useEffect(() => {
    let ctrl = new AbortController();
    const load = () => {
      ctrl.abort();
      ctrl = new AbortController();
      const signal = ctrl.signal;
      api.health(signal).then(
        (health) => !signal.aborted && setState({ health, error: null }),
        (e: Error) => !signal.aborted && setState((s) => ({ ...s, error: e.message })),
      );
    };
    load();
    const unsubscribe = subscribeChanges(load);
    return () => {
      unsubscribe();
      ctrl.abort();
    };
  }, []);
  return state;
}

function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" data-testid="help" onClick={onClose}>
      <div className="help" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard</h2>
        <table className="keys">
          <tbody>
            <tr><td><kbd>j</kbd> <kbd>k</kbd></td><td>move the selection down / up</td></tr>
            <tr><td><kbd>Enter</kbd></td><td>open the selected item (Inbox: go to its view; Agents: the run's details; elsewhere: details)</td></tr>
            {VIEWS.map((v) => (
              <tr key={v}>
                <td><kbd>g</kbd> <kbd>{LETTER[v]}</kbd></td>
                <td>go to {TITLES[v]}</td>
              </tr>
            ))}
            <tr><td><kbd>a</kbd></td><td>Changes: approve the selected change</td></tr>
            <tr><td><kbd>m</kbd></td><td>Changes: merge it (or show why the policy says no)</td></tr>
            <tr><td><kbd>r</kbd></td><td>Changes: request changes (opens the comment box)</td></tr>
            <tr><td><kbd>x</kbd></td><td>Changes: mark the selected change; <kbd>a</kbd> / <kbd>m</kbd> then act on every marked one</td></tr>
            <tr><td><kbd>[</kbd> <kbd>]</kbd></td><td>Work: hand the selected item to the column on the left / right (also <kbd>h</kbd> <kbd>l</kbd>)</td></tr>
            <tr><td><kbd>d</kbd></td><td>Work: dispatch the selected item to its agent</td></tr>
            <tr><td><kbd>t</kbd></td><td>toggle dark / light theme</td></tr>
            <tr><td><kbd>?</kbd></td><td>toggle this help</td></tr>
            <tr><td><kbd>Esc</kbd></td><td>close this help or the open detail panel</td></tr>
          </tbody>
        </table>
        <button type="button" onClick={onClose}>Close</button>
      </div>
    </div>
  );
}

export default function App() {
  const [view, setView] = useState<ViewName>(() => viewFromHash(location.hash));
  const [selected, setSelectedState] = useState(-1);
  const [help, setHelp] = useState(false);
  const [devices, setDevices] = useState(false);
  const [notifications, setNotifications] = useState(false);
  const [theme, setTheme] = useState<Theme>(() => initialTheme());
  const [mine, setMineState] = useState<boolean>(() => isMine());
  const [pendingG, setPendingG] = useState(false);
  const [live, setLive] = useState<LiveStatus>('connecting');
  const { health, error: healthError } = useHealth();
  const list = useRef<ListHandle>({ count: 0, open: null });
  const keyState = useRef(initialKeyState);
  const selectedRef = useRef(-1);
  const helpRef = useRef(false);
  helpRef.current = help;

  const setSelected = useCallback((i: number) => {
    selectedRef.current = i;
    setSelectedState(i);
  }, []);

  useEffect(() => subscribeStatus(setLive), []);
  const [pending, setPending] = useState<PendingDecision[]>(() => loadPending());
  useEffect(() => onPending(setPending), []);
  useEffect(() => startFlushing(() => setPending(loadPending())), []);

  useEffect(() => {
    const onHash = () => setView(viewFromHash(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // A new view starts with nothing selected.
  useEffect(() => {
    setSelected(-1);
    document.title = `${TITLES[view]} · Flightdeck`;
  }, [view, setSelected]);

  useEffect(() => applyTheme(theme), [theme]);

  // Keep the selected row on screen.
  useEffect(() => {
    if (selected < 0) return;
    const row = document.querySelector(`main [data-testid="row"][aria-selected="true"]`);
    row?.scrollIntoView({ block: 'nearest' });
  }, [selected, view]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || isTypingTarget(e.target as HTMLElement | null)) return;
      const target = e.target as HTMLElement | null;
      // Enter on a focused link or button does what the link or button does.
      if (e.key === 'Enter' && target && (target.tagName === 'A' || target.tagName === 'BUTTON')) return;
      const { state, action } = handleKey(keyState.current, e, Date.now());
      keyState.current = state;
      setPendingG(state.pending === 'g');
      clearTimeout(timer);
      if (state.pending) timer = setTimeout(() => setPendingG(false), 1500);
      switch (action.type) {
        case 'none':
          return;
        case 'pending':
          break;
        case 'move': {
          if (helpRef.current) return;
          setSelected(moveSelection(selectedRef.current, action.delta, list.current.count));
          break;
        }
        case 'open':
          if (helpRef.current) return;
          if (selectedRef.current >= 0 && selectedRef.current < list.current.count) list.current.open?.(selectedRef.current);
          break;
        case 'goto':
          setHelp(false);
          location.hash = `#/${action.view}`;
          break;
        case 'toggleHelp':
          setHelp((h) => !h);
          break;
        case 'closeHelp':
          // Escape closes the help first, then whatever the view has open (a detail panel).
          if (helpRef.current) setHelp(false);
          else if (!list.current.close?.()) return;
          break;
        case 'act':
          if (helpRef.current) return;
          if (selectedRef.current >= 0 && selectedRef.current < list.current.count && list.current.act) {
            list.current.act(selectedRef.current, action.act);
          } else return;
          break;
        case 'toggleTheme':
          setTheme((t) => {
            const next = t === 'dark' ? 'light' : 'dark';
            applyTheme(next, true);
            return next;
          });
          break;
      }
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      clearTimeout(timer);
    };
  }, [setSelected]);

  const View = VIEW_COMPONENTS[view];
  const liveClass = healthError ? 'offline' : live;
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">
          <span className="logo" aria-hidden="true">◢</span> Flightdeck
        </span>
        <span className="meta">
          {health ? (
            <>
              <span className="pill" title={`database: ${health.database}`} data-testid="database">
                {health.database}
              </span>
              <span className="muted small">v{health.version}</span>
            </>
          ) : null}
          {isDesktop() ? <span className="pill">desktop</span> : null}
        </span>
        <span className="spacer" />
        {pendingG ? <span className="pending-key" aria-live="polite"><kbd>g</kbd> …</span> : null}
        <label className="mine-toggle" title="Only reviews asked of me, my work items, my agents' runs">
          <input
            type="checkbox"
            data-testid="mine-toggle"
            checked={mine}
            onChange={(e) => {
              setMine(e.target.checked);
              setMineState(e.target.checked);
            }}
          />{' '}
          Mine
        </label>
        <span className={`live live-${liveClass}`} data-testid="live" title={healthError ?? 'change notifications'}>
          <span className="dot" aria-hidden="true" /> {healthError ? 'offline' : STATUS_TEXT[live]}
        </span>
        <button type="button" className="icon" title="Toggle theme (t)" onClick={() => {
          const next = theme === 'dark' ? 'light' : 'dark';
          applyTheme(next, true);
          setTheme(next);
        }}>
          {theme === 'dark' ? '☀' : '☾'}
        </button>
        <button
          type="button"
          className="icon"
          title="Notifications: channels, rules and what was sent"
          aria-label="Notifications"
          data-testid="open-notifications"
          onClick={() => setNotifications(true)}
        >
          🔔
        </button>
        {isDesktop() ? null : (
          <button type="button" title="Devices signed in; pair a phone" data-testid="open-devices" onClick={() => setDevices(true)}>
            Devices
          </button>
        )}
        <button type="button" className="icon help-button" title="Keyboard shortcuts (?)" onClick={() => setHelp((h) => !h)}>
          ?
        </button>
      </header>
      <nav className="sidebar" aria-label="Views">
        {VIEWS.map((v) => (
          <a
            key={v}
            href={`#/${v}`}
            data-testid={`nav-${v}`}
            className={v === view ? 'nav active' : 'nav'}
            aria-current={v === view ? 'page' : undefined}
          >
            <span>{TITLES[v]}</span>
            <kbd className="hint-key">g {LETTER[v]}</kbd>
          </a>
        ))}
        <div className="sidebar-foot muted small">
          Press <kbd>?</kbd> for keys
        </div>
      </nav>
      <main className="content">
        <OfflineBanner />
        <DevicePending pending={pending} />
        <View key={view} selected={selected} setSelected={setSelected} list={list} />
      </main>
      {help ? <HelpOverlay onClose={() => setHelp(false)} /> : null}
      {devices ? <DevicesPanel onClose={() => setDevices(false)} /> : null}
      {notifications ? <NotificationsPanel onClose={() => setNotifications(false)} /> : null}
    </div>
  );
}
