// The only module that talks to the backend. In the browser the API is same-origin and the
// session cookie (set by the sign-in link; HttpOnly, so never seen here) authenticates every
// request, EventSource and chart images included; in the desktop app (Tauri) it goes through the
// `flightdeck://` custom URI scheme, and change notifications come from Tauri events instead of
// server-sent events.

import type { Action } from './generated/Action';
import type { WorkState } from './generated/WorkState';
import type { AgentsView } from './generated/AgentsView';
import type { AuditView } from './generated/AuditView';
import type { ChangeDiff } from './generated/ChangeDiff';
import type { ChangesView } from './generated/ChangesView';
import type { Event as ChangeEvent } from './generated/Event';
import type { ExperimentsView } from './generated/ExperimentsView';
import type { Health } from './generated/Health';
import type { InboxView } from './generated/InboxView';
import type { OutboxView } from './generated/OutboxView';
import type { ReleasesView } from './generated/ReleasesView';
import type { ReposView } from './generated/ReposView';
import type { RunDetail } from './generated/RunDetail';
import type { SpendView } from './generated/SpendView';
import type { VelocityView } from './generated/VelocityView';
import type { Dispatch } from './generated/Dispatch';
import type { WorkBoard } from './generated/WorkBoard';
import type { WorkItem } from './generated/WorkItem';
import type { CycleTime } from './generated/CycleTime';
import type { VelocityReport } from './generated/VelocityReport';
import type { Dora } from './generated/Dora';
import type { Release } from './generated/Release';
import type { ReleaseDetail } from './generated/ReleaseDetail';
import type { DeployDetail } from './generated/DeployDetail';

type TauriGlobal = {
  event?: {
    listen: (name: string, cb: (e: { payload: unknown }) => void) => Promise<() => void>;
  };
};

declare global {
  interface Window {
    __TAURI__?: TauriGlobal;
    __TAURI_INTERNALS__?: unknown;
  }
}

export const DESKTOP_BASE = 'flightdeck://localhost';
const POLL_MS = 10_000;

/** Where the API lives, given how the page was loaded. */
export function resolveBase(env: { protocol: string; tauriInternals: boolean }): string {
  return env.protocol === 'tauri:' || env.tauriInternals ? DESKTOP_BASE : '';
}

export function isDesktop(): boolean {
  return resolveBase(currentEnv()) === DESKTOP_BASE;
}

function currentEnv() {
  return {
    protocol: typeof location !== 'undefined' ? location.protocol : 'http:',
    tauriInternals: typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window,
  };
}

export function baseUrl(): string {
  return resolveBase(currentEnv());
}

export class ApiError extends Error {
  constructor(
    public code: string,
    message: string,
    public status: number,
    /** A policy refusal's reasons (code `policy`). */
    public reasons: string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turns an error response body (`{"error": {"code", "message"}}`) into an ApiError. */
export function errorFromBody(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string; reasons?: unknown } };
    if (parsed?.error?.message) {
      const reasons = Array.isArray(parsed.error.reasons) ? parsed.error.reasons.map(String) : [];
      return new ApiError(parsed.error.code || 'error', parsed.error.message, status, reasons);
    }
  } catch {
    // not JSON: fall through
  }
  const text = body.trim().slice(0, 200);
  return new ApiError('http_' + status, `HTTP ${status}${text ? `: ${text}` : ''}`, status);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let res: Response;
  try {
    res = await fetch(baseUrl() + path, { headers, signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new ApiError('unreachable', `Cannot reach the Flightdeck server (${(e as Error)?.message || e}).`, 0);
  }
  const body = await res.text();
  if (!res.ok) throw errorFromBody(res.status, body);
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new ApiError('bad_json', `The server sent something that is not JSON for ${path}.`, res.status);
  }
}

/** POSTs `body` as JSON (the server takes nothing else for actions). */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
  let res: Response;
  try {
    res = await fetch(baseUrl() + path, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (e) {
    throw new ApiError('unreachable', `Cannot reach the Flightdeck server (${(e as Error)?.message || e}).`, 0);
  }
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, text);
  return JSON.parse(text) as T;
}

/** A decision on a change request, as `POST /api/changes/{id}/actions` takes it. */
export type Decide = {
  kind: 'approve' | 'request_changes' | 'comment' | 'merge' | 'close';
  comment?: string;
  method?: MergeMethod;
  override_reason?: string;
  /** With request_changes: the agent that gets the comments as its next prompt. */
  send_back?: string;
  /** The head commit shown: a change that moved since is not decided (409 `moved`). */
  head_sha?: string;
};

/** A dispatch with the last lines of its output (`GET /api/dispatches/{id}`). */
export type DispatchDetail = Dispatch & { log: string[] };

/** A new work item, as `POST /api/work` takes it. */
export type NewWork = { title: string; body?: string; repo?: string; assignee?: string };

export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** API path of one agent run; run ids (`<agent>:<session>`) are encoded as one path segment. */
export function runPath(id: string): string {
  return `/api/runs/${encodeURIComponent(id)}`;
}

export const api = {
  health: (s?: AbortSignal) => getJson<Health>('/api/health', s),
  inbox: (s?: AbortSignal) => getJson<InboxView>('/api/inbox', s),
  changes: (s?: AbortSignal) => getJson<ChangesView>('/api/changes', s),
  agents: (s?: AbortSignal) => getJson<AgentsView>('/api/agents', s),
  run: (id: string, s?: AbortSignal) => getJson<RunDetail>(runPath(id), s),
  repos: (s?: AbortSignal) => getJson<ReposView>('/api/repos', s),
  releases: (s?: AbortSignal) => getJson<ReleasesView>('/api/releases', s),
  experiments: (s?: AbortSignal) => getJson<ExperimentsView>('/api/experiments', s),
  spend: (s?: AbortSignal) => getJson<SpendView>('/api/spend', s),
  velocity: (s?: AbortSignal) => getJson<VelocityView>('/api/velocity', s),
  audit: (s?: AbortSignal) => getJson<AuditView>('/api/audit', s),
  outbox: (s?: AbortSignal) => getJson<OutboxView>('/api/outbox', s),
  diff: (changeId: string, page: number, s?: AbortSignal) =>
    getJson<ChangeDiff>(`/api/changes/${encodeURIComponent(changeId)}/diff?page=${page}`, s),
  decide: (changeId: string, d: Decide) =>
    postJson<Action & { dispatch?: Dispatch | null }>(`/api/changes/${encodeURIComponent(changeId)}/actions`, d),
  work: (s?: AbortSignal) => getJson<WorkBoard>('/api/work', s),
  dora: (s?: AbortSignal) => getJson<Dora>('/api/dora', s),
  cycle: (s?: AbortSignal) => getJson<CycleTime>('/api/cycle', s),
  velocityReport: (s?: AbortSignal) => getJson<VelocityReport>('/api/velocity/report', s),
  release: (id: string, s?: AbortSignal) => getJson<ReleaseDetail>(`/api/releases/${encodeURIComponent(id)}`, s),
  deploy: (id: string, s?: AbortSignal) => getJson<DeployDetail>(`/api/deploys/${encodeURIComponent(id)}`, s),
  decideRelease: (id: string, approve: boolean, reason: string) =>
    postJson<Release>(`/api/releases/${encodeURIComponent(id)}/decision`, { approve, reason }),
  addWork: (w: NewWork) => postJson<WorkItem>('/api/work', w),
  assign: (id: string, assignee: string) => postJson<WorkItem>(`/api/work/${encodeURIComponent(id)}/assign`, { assignee }),
  setState: (id: string, state: WorkState) => postJson<WorkItem>(`/api/work/${encodeURIComponent(id)}/state`, { state }),
  dispatch: (id: string, agent?: string) =>
    postJson<Dispatch>(`/api/work/${encodeURIComponent(id)}/dispatch`, agent ? { agent } : {}),
  dispatchDetail: (id: string, s?: AbortSignal) => getJson<DispatchDetail>(`/api/dispatches/${encodeURIComponent(id)}`, s),
  cancel: (id: string) => postJson<Dispatch>(`/api/dispatches/${encodeURIComponent(id)}/cancel`, {}),
  /** Retry or dismiss a failed action of the outbox. */
  resolve: (key: string, resolve: 'retry' | 'dismiss') =>
    postJson<Action>(`/api/outbox/${encodeURIComponent(key)}`, { resolve }),
};

export type ChartName =
  | 'spend-by-day.svg'
  | 'spend-by-vendor.svg'
  | 'commits-by-week.svg'
  | 'agent-share.svg'
  | 'lead-time-distribution.svg'
  | 'cycle-phases.svg'
  | 'merged-by-week.svg';

/** The weekly HTML report (opens on its own, charts inline). */
export function weeklyReportUrl(): string {
  return `${baseUrl()}/api/reports/weekly.html`;
}

/** URL for a server-rendered chart image; `version` busts the cache after a change. */
export function chartUrl(name: ChartName, version = 0): string {
  return `${baseUrl()}/api/charts/${name}${version ? `?v=${version}` : ''}`;
}

// ---- change notifications -------------------------------------------------------------------

/** `null` means "something may have changed" (poll tick or reconnect): refetch unconditionally. */
export type ChangeListener = (event: ChangeEvent | null) => void;
export type LiveStatus = 'connecting' | 'live' | 'polling' | 'reconnecting';

const listeners = new Set<ChangeListener>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let status: LiveStatus = 'connecting';
let stop: (() => void) | null = null;

function setStatus(s: LiveStatus) {
  status = s;
  statusListeners.forEach((l) => l(s));
}

function emit(event: ChangeEvent | null) {
  listeners.forEach((l) => l(event));
}

/** Parses an event payload (object or JSON text); anything unexpected becomes `null`. */
export function parseEvent(payload: unknown): ChangeEvent | null {
  let value = payload;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (value && typeof value === 'object' && Array.isArray((value as ChangeEvent).topics)) {
    return value as ChangeEvent;
  }
  return null;
}

function start(): () => void {
  if (isDesktop()) {
    const tauriEvents = window.__TAURI__?.event;
    if (tauriEvents) {
      let unlisten: (() => void) | null = null;
      let cancelled = false;
      tauriEvents
        .listen('flightdeck-changed', (e) => emit(parseEvent(e.payload)))
        .then((fn) => {
          if (cancelled) fn();
          else unlisten = fn;
          setStatus('live');
        })
        .catch(() => setStatus('polling'));
      return () => {
        cancelled = true;
        unlisten?.();
      };
    }
    setStatus('polling');
    const timer = setInterval(() => emit(null), POLL_MS);
    return () => clearInterval(timer);
  }

  if (typeof EventSource === 'undefined') {
    setStatus('polling');
    const timer = setInterval(() => emit(null), POLL_MS);
    return () => clearInterval(timer);
  }
  const source = new EventSource(`${baseUrl()}/api/events`);
  let everOpen = false;
  const onMessage = (e: MessageEvent) => emit(parseEvent(e.data));
  source.onopen = () => {
    // After a reconnect we may have missed notifications: refetch.
    if (everOpen) emit(null);
    everOpen = true;
    setStatus('live');
  };
  source.onerror = () => setStatus(everOpen ? 'reconnecting' : 'connecting');
  source.addEventListener('message', onMessage);
  source.addEventListener('changed', onMessage as EventListener);
  return () => source.close();
}

export function subscribeChanges(listener: ChangeListener): () => void {
  listeners.add(listener);
  if (!stop) stop = start();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && statusListeners.size === 0 && stop) {
      stop();
      stop = null;
    }
  };
}

export function subscribeStatus(listener: (s: LiveStatus) => void): () => void {
  statusListeners.add(listener);
  listener(status);
  if (!stop) stop = start();
  return () => {
    statusListeners.delete(listener);
    if (listeners.size === 0 && statusListeners.size === 0 && stop) {
      stop();
      stop = null;
    }
  };
}
