// The keyboard state machine, kept pure so it can be unit-tested: feed it a key and the current
// time, get back the next state and what the app should do.

export const VIEWS = [
  'inbox',
  'changes',
  'work',
  'agents',
  'repos',
  'releases',
  'experiments',
  'spend',
  'velocity',
  'audit',
] as const;
export type ViewName = (typeof VIEWS)[number];

/** The letter that follows `g` for each view. */
export const GOTO_KEYS: Record<string, ViewName> = {
  i: 'inbox',
  c: 'changes',
  w: 'work',
  a: 'agents',
  r: 'repos',
  l: 'releases',
  e: 'experiments',
  s: 'spend',
  v: 'velocity',
  u: 'audit',
};

/** How long `g` waits for its second letter. */
export const SEQUENCE_TIMEOUT_MS = 1500;

export type KeyState = {
  /** `g` was pressed at `pendingAt` and waits for a letter. */
  pending: 'g' | null;
  pendingAt: number;
};

export const initialKeyState: KeyState = { pending: null, pendingAt: 0 };

export type KeyAction =
  | { type: 'none' }
  | { type: 'pending' }
  | { type: 'move'; delta: 1 | -1 }
  | { type: 'open' }
  | { type: 'goto'; view: ViewName }
  | { type: 'toggleHelp' }
  | { type: 'closeHelp' }
  | { type: 'toggleTheme' }
  | { type: 'act'; act: ListAct };

/**
 * Decisions on the selected row (Changes): a approve, m merge, r request changes; x marks the
 * row for a bulk decision (a and m then act on every marked row).
 */
export type ListAct = 'approve' | 'merge' | 'request_changes' | 'mark' | 'left' | 'right' | 'dispatch';
/**
 * On the work board: [ / h hand the selected card to the column on the left, ] / l to the one
 * on the right; d dispatches it to its agent.
 */
export const ACT_KEYS: Record<string, ListAct> = {
  a: 'approve',
  m: 'merge',
  r: 'request_changes',
  x: 'mark',
  '[': 'left',
  h: 'left',
  ']': 'right',
  l: 'right',
  d: 'dispatch',
};

export type KeyInput = {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
};

export type KeyResult = { state: KeyState; action: KeyAction };

const NONE: KeyAction = { type: 'none' };

export function handleKey(state: KeyState, input: KeyInput, now: number): KeyResult {
  // Browser and OS shortcuts (Ctrl+R, Cmd+K, ...) are never ours.
  if (input.ctrlKey || input.metaKey || input.altKey) {
    return { state: initialKeyState, action: NONE };
  }
  const key = input.key;
  if (key === 'Shift' || key === 'Control' || key === 'Alt' || key === 'Meta') {
    return { state, action: NONE }; // a bare modifier keeps a pending sequence alive
  }
  const pendingLive = state.pending === 'g' && now - state.pendingAt <= SEQUENCE_TIMEOUT_MS;
  if (pendingLive) {
    const view = GOTO_KEYS[key];
    // Any second key ends the sequence; only a known letter navigates.
    return { state: initialKeyState, action: view ? { type: 'goto', view } : NONE };
  }
  switch (key) {
    case 'g':
      return { state: { pending: 'g', pendingAt: now }, action: { type: 'pending' } };
    case 'j':
    case 'ArrowDown':
      return { state: initialKeyState, action: { type: 'move', delta: 1 } };
    case 'k':
    case 'ArrowUp':
      return { state: initialKeyState, action: { type: 'move', delta: -1 } };
    case 'Enter':
      return { state: initialKeyState, action: { type: 'open' } };
    case '?':
      return { state: initialKeyState, action: { type: 'toggleHelp' } };
    case 'Escape':
      return { state: initialKeyState, action: { type: 'closeHelp' } };
    case 't':
      return { state: initialKeyState, action: { type: 'toggleTheme' } };
    default: {
      const act = ACT_KEYS[key];
      return { state: initialKeyState, action: act ? { type: 'act', act } : NONE };
    }
  }
}

/**
 * The next selected index after moving by `delta` in a list of `count` rows. `-1` means nothing
 * is selected; the first move down from there selects the first row, and moves stop at the ends.
 */
export function moveSelection(current: number, delta: number, count: number): number {
  if (count <= 0) return -1;
  if (current < 0) return 0; // first j or k selects the first row
  if (current >= count) return count - 1; // the list shrank under the selection
  return Math.min(count - 1, Math.max(0, current + delta));
}

/** Keys typed into a form field belong to the field. */
export function isTypingTarget(target: { tagName?: string; isContentEditable?: boolean } | null): boolean {
  if (!target) return false;
  if (target.isContentEditable) return true;
  const tag = (target.tagName || '').toUpperCase();
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT';
}

/** The view named in a location hash such as `#/changes`; unknown hashes fall back to the inbox. */
export function viewFromHash(hash: string): ViewName {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (VIEWS as readonly string[]).includes(name) ? (name as ViewName) : 'inbox';
}

/** The run named in an Agents hash such as `#/agents?run=claude%3Aabc`, or null. */
export function runFromHash(hash: string): string | null {
  const q = hash.indexOf('?');
  if (q < 0 || viewFromHash(hash) !== 'agents') return null;
  try {
    return new URLSearchParams(hash.slice(q + 1)).get('run') || null;
  } catch {
    return null;
  }
}

/** The hash that opens one run in the Agents view. */
export function agentsHashFor(runId: string): string {
  return `#/agents?run=${encodeURIComponent(runId)}`;
}

/** Where Enter on an Inbox item goes: its view, or straight to the waiting run for `needs_you`. */
export function inboxHash(item: { id: string; kind: string; view: string }): string {
  const prefix = 'needs-you:';
  if (item.kind === 'needs_you' && item.id.startsWith(prefix) && item.id.length > prefix.length) {
    return agentsHashFor(item.id.slice(prefix.length));
  }
  return `#/${item.view}`;
}
