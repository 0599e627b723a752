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
import type { ExperimentWork } from './generated/ExperimentWork';
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
import type { TeamView } from './generated/TeamView';
import type { VelocityReport } from './generated/VelocityReport';
import type { Dora } from './generated/Dora';
import type { Release } from './generated/Release';
import type { ExperimentCall } from './generated/ExperimentCall';
import type { ExperimentDecided } from './generated/ExperimentDecided';
import type { ReleaseDetail } from './generated/ReleaseDetail';
import type { DeployDetail } from './generated/DeployDetail';
import { signDecision, signedHeaders } from './device';

declare global {
  interface Window {
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

// ---- the last synced views, for reading with no connection ----------------------------------

/** What a phone needs to read and decide offline: the inbox, changes with their diffs, releases. */
const KEPT = /^\/api\/(inbox|changes|releases)(\/|\?|$)/;
const KEPT_PREFIX = 'flightdeck.kept:';

/** Keeps a view's last answer on this device. Past the browser's storage quota the oldest kept
 * answers go first. */
export function keep(path: string, body: string, storage: Storage = localStorage): void {
  const entry = JSON.stringify({ at: Math.floor(Date.now() / 1000), body });
  for (let tries = 0; tries < 8; tries++) {
    try {
      storage.setItem(KEPT_PREFIX + path, entry);
      return;
    } catch {
      const oldest = keptKeys(storage)
        .map((k) => ({ k, at: (JSON.parse(storage.getItem(k) || '{}') as { at?: number }).at ?? 0 }))
        .sort((a, b) => a.at - b.at)[0];
      if (!oldest) return;
      storage.removeItem(oldest.k);
    }
  }
}

function keptKeys(storage: Storage): string[] {
  const out: string[] = [];
  for (let i = 0; i < storage.length; i++) {
    const k = storage.key(i);
    if (k?.startsWith(KEPT_PREFIX)) out.push(k);
  }
  return out;
}

/** A view's last answer kept on this device, and when it was fetched. */
export function kept(path: string, storage: Storage = localStorage): { at: number; body: string } | null {
  try {
    const v = JSON.parse(storage.getItem(KEPT_PREFIX + path) || 'null') as { at: number; body: string } | null;
    return v && typeof v.body === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Forgets every kept answer (signing out on a shared device). */
export function forgetKept(storage: Storage = localStorage): void {
  keptKeys(storage).forEach((k) => storage.removeItem(k));
}

/** When the views shown were last fetched, if some come from this device's copy right now. */
let offlineSince: number | null = null;
const offlineListeners = new Set<(at: number | null) => void>();
export function subscribeOffline(l: (at: number | null) => void): () => void {
  offlineListeners.add(l);
  l(offlineSince);
  return () => offlineListeners.delete(l);
}
function setOfflineSince(at: number | null) {
  if (at === offlineSince) return;
  offlineSince = at;
  offlineListeners.forEach((l) => l(at));
}

function canKeep(path: string): boolean {
  return !isDesktop() && typeof localStorage !== 'undefined' && KEPT.test(path);
}

/** A paired device signs every request (`device.ts`); the desktop window has no device key. */
async function signed(method: string, url: string, body: string): Promise<Record<string, string>> {
  return isDesktop() ? {} : signedHeaders(method, url, body);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    const url = baseUrl() + path;
    const headers: Record<string, string> = { Accept: 'application/json', ...(await signed('GET', url, '')) };
    res = await fetch(url, { headers, signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    const copy = canKeep(path) ? kept(path) : null;
    if (copy) {
      // No connection: the last synced answer, saying from when.
      setOfflineSince(copy.at);
      return JSON.parse(copy.body) as T;
    }
    throw new ApiError('unreachable', `Cannot reach the Flightdeck server (${(e as Error)?.message || e}).`, 0);
  }
  const body = await res.text();
  // Signed out or revoked (a lost phone): what this device kept of the views goes too.
  if (res.status === 401 && canKeep(path)) forgetKept();
  if (!res.ok) throw errorFromBody(res.status, body);
  let parsed: T;
  try {
    parsed = JSON.parse(body) as T;
  } catch {
    throw new ApiError('bad_json', `The server sent something that is not JSON for ${path}.`, res.status);
  }
  setOfflineSince(null);
  if (canKeep(path)) keep(path, body);
  return parsed;
}

/** POSTs `body` as JSON (the server takes nothing else for actions). */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    const url = baseUrl() + path;
    const text = JSON.stringify(body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      ...(await signed('POST', url, text)),
    };
    res = await fetch(url, { method: 'POST', headers, body: text });
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
  /** Made once per decision: sent again (after a lost answer, from offline), it is one. */
  idempotency_key?: string;
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

/** "Mine": the Changes, Work and Agents views show only what concerns the signed-in person
 * (reviews asked of them, work assigned to them, runs their agents made). Kept per browser. */
let mineOnly = (() => {
  try {
    return localStorage.getItem('flightdeck.mine') === '1';
  } catch {
    return false;
  }
})();

export function isMine(): boolean {
  return mineOnly;
}

/** Turns "mine" on or off and refetches every view. */
export function setMine(on: boolean): void {
  mineOnly = on;
  try {
    localStorage.setItem('flightdeck.mine', on ? '1' : '0');
  } catch {
    // No storage (a private window): the choice lasts until reload.
  }
  emit(null);
}

const mine = (path: string) => (mineOnly ? `${path}?mine=true` : path);

export const api = {
  health: (s?: AbortSignal) => getJson<Health>('/api/health', s),
  inbox: (s?: AbortSignal) => getJson<InboxView>('/api/inbox', s),
  changes: (s?: AbortSignal) => getJson<ChangesView>(mine('/api/changes'), s),
  agents: (s?: AbortSignal) => getJson<AgentsView>(mine('/api/agents'), s),
  run: (id: string, s?: AbortSignal) => getJson<RunDetail>(runPath(id), s),
  repos: (s?: AbortSignal) => getJson<ReposView>('/api/repos', s),
  releases: (s?: AbortSignal) => getJson<ReleasesView>('/api/releases', s),
  experiments: (s?: AbortSignal) => getJson<ExperimentsView>('/api/experiments', s),
  experimentWork: (id: string, s?: AbortSignal) =>
    getJson<ExperimentWork>(`/api/experiments/${encodeURIComponent(id)}/work`, s),
  spend: (s?: AbortSignal) => getJson<SpendView>('/api/spend', s),
  velocity: (s?: AbortSignal) => getJson<VelocityView>('/api/velocity', s),
  audit: (s?: AbortSignal) => getJson<AuditView>('/api/audit', s),
  outbox: (s?: AbortSignal) => getJson<OutboxView>('/api/outbox', s),
  diff: (changeId: string, page: number, s?: AbortSignal) =>
    getJson<ChangeDiff>(`/api/changes/${encodeURIComponent(changeId)}/diff?page=${page}`, s),
  decidePath: (changeId: string) => `/api/changes/${encodeURIComponent(changeId)}/actions`,
  decide: async (changeId: string, d: Decide) =>
    postJson<Action & { dispatch?: Dispatch | null }>(api.decidePath(changeId), await signDecision(api.decidePath(changeId), d as Record<string, unknown>)),
  work: (s?: AbortSignal) => getJson<WorkBoard>(mine('/api/work'), s),
  dora: (s?: AbortSignal) => getJson<Dora>('/api/dora', s),
  cycle: (s?: AbortSignal) => getJson<CycleTime>('/api/cycle', s),
  velocityReport: (s?: AbortSignal) => getJson<VelocityReport>('/api/velocity/report', s),
  team: (s?: AbortSignal) => getJson<TeamView>('/api/team', s),
  release: (id: string, s?: AbortSignal) => getJson<ReleaseDetail>(`/api/releases/${encodeURIComponent(id)}`, s),
  deploy: (id: string, s?: AbortSignal) => getJson<DeployDetail>(`/api/deploys/${encodeURIComponent(id)}`, s),
  releaseDecisionPath: (id: string) => `/api/releases/${encodeURIComponent(id)}/decision`,
  decideRelease: async (id: string, approve: boolean, reason: string) =>
    postJson<Release>(api.releaseDecisionPath(id), await signDecision(api.releaseDecisionPath(id), { approve, reason })),
  /** Ship (the winner, or `variation`), stop or iterate an experiment; signed, taken once. */
  decideExperiment: (id: string, call: ExperimentCall, variation?: string, reason = '') =>
    postJson<ExperimentDecided>(`/api/experiments/${encodeURIComponent(id)}/decision`, { call, variation, reason }),
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

/** An experiment's forest plot (SVG drawn by the server). */
export function forestUrl(id: string, version = 0): string {
  return `${baseUrl()}/api/experiments/${encodeURIComponent(id)}/forest.svg${version ? `?v=${version}` : ''}`;
}

/** One metric's cumulative lift over time in an experiment (SVG drawn by the server). */
export function cumulativeUrl(id: string, metric: string, version = 0): string {
  const q = new URLSearchParams({ metric });
  if (version) q.set('v', String(version));
  return `${baseUrl()}/api/experiments/${encodeURIComponent(id)}/cumulative.svg?${q}`;
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
    // The window has no global Tauri object (`withGlobalTauri: false`): the event API is
    // imported, and loaded only here, so the browser build never fetches it.
    let unlisten: (() => void) | null = null;
    let timer: ReturnType<typeof setInterval> | null = null;
    let cancelled = false;
    import('@tauri-apps/api/event')
      .then(({ listen }) =>
        listen('flightdeck-changed', (e) => emit(parseEvent(e.payload))),
      )
      .then((fn) => {
        if (cancelled) fn();
        else unlisten = fn;
        setStatus('live');
      })
      .catch(() => {
        if (cancelled) return;
        setStatus('polling');
        timer = setInterval(() => emit(null), POLL_MS);
      });
    return () => {
      cancelled = true;
      unlisten?.();
      if (timer) clearInterval(timer);
    };
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
