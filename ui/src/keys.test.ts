import { describe, expect, it } from 'vitest';
import {
  agentsHashFor,
  inboxHash,
  runFromHash,
  SEQUENCE_TIMEOUT_MS,
  handleKey,
  initialKeyState,
  isTypingTarget,
  moveSelection,
  viewFromHash,
  type KeyAction,
  type KeyState,
} from './keys';

function press(keys: string[], start = 1000, step = 100): { actions: KeyAction[]; state: KeyState } {
  let state = initialKeyState;
  const actions: KeyAction[] = [];
  keys.forEach((key, i) => {
    const r = handleKey(state, { key }, start + i * step);
    state = r.state;
    actions.push(r.action);
  });
  return { actions, state };
}

describe('g then a letter', () => {
  it('switches to every view', () => {
    const expected: Record<string, string> = {
      i: 'inbox',
      c: 'changes',
      a: 'agents',
      r: 'repos',
      l: 'releases',
      e: 'experiments',
      s: 'spend',
      v: 'velocity',
      u: 'audit',
    };
    for (const [letter, view] of Object.entries(expected)) {
      const { actions, state } = press(['g', letter]);
      expect(actions[0]).toEqual({ type: 'pending' });
      expect(actions[1]).toEqual({ type: 'goto', view });
      expect(state).toEqual(initialKeyState);
    }
  });

  it('letters without g do not navigate', () => {
    expect(press(['c']).actions[0]).toEqual({ type: 'none' });
    expect(press(['v']).actions[0]).toEqual({ type: 'none' });
  });

  it('g a goes to Agents rather than approving', () => {
    expect(press(['g', 'a']).actions[1]).toEqual({ type: 'goto', view: 'agents' });
    expect(press(['g', 'r']).actions[1]).toEqual({ type: 'goto', view: 'repos' });
  });

  it('expires after the timeout', () => {
    let r = handleKey(initialKeyState, { key: 'g' }, 0);
    r = handleKey(r.state, { key: 'c' }, SEQUENCE_TIMEOUT_MS + 1);
    expect(r.action).toEqual({ type: 'none' });
    expect(r.state).toEqual(initialKeyState);
  });

  it('still works right at the timeout', () => {
    let r = handleKey(initialKeyState, { key: 'g' }, 0);
    r = handleKey(r.state, { key: 'c' }, SEQUENCE_TIMEOUT_MS);
    expect(r.action).toEqual({ type: 'goto', view: 'changes' });
  });

  it('an unknown second key resets without acting (g j does not move)', () => {
    const { actions, state } = press(['g', 'x', 'c']);
    expect(actions[1]).toEqual({ type: 'none' });
    expect(actions[2]).toEqual({ type: 'none' });
    expect(state).toEqual(initialKeyState);
    expect(press(['g', 'j']).actions[1]).toEqual({ type: 'none' });
  });

  it('g g restarts nothing: the second g is consumed', () => {
    const { actions } = press(['g', 'g', 'c']);
    expect(actions[1]).toEqual({ type: 'none' });
    expect(actions[2]).toEqual({ type: 'none' });
  });

  it('a bare Shift keeps the sequence alive', () => {
    let r = handleKey(initialKeyState, { key: 'g' }, 0);
    r = handleKey(r.state, { key: 'Shift' }, 10);
    expect(r.state.pending).toBe('g');
  });

  it('ignores modified keys and resets', () => {
    let r = handleKey(initialKeyState, { key: 'g' }, 0);
    r = handleKey(r.state, { key: 'c', ctrlKey: true }, 10);
    expect(r.action).toEqual({ type: 'none' });
    expect(r.state).toEqual(initialKeyState);
    expect(handleKey(initialKeyState, { key: 'j', metaKey: true }, 0).action).toEqual({ type: 'none' });
  });
});

describe('single keys', () => {
  it('maps j/k, arrows, Enter, ?, Escape and t', () => {
    const at = (key: string) => handleKey(initialKeyState, { key }, 0).action;
    expect(at('j')).toEqual({ type: 'move', delta: 1 });
    expect(at('ArrowDown')).toEqual({ type: 'move', delta: 1 });
    expect(at('k')).toEqual({ type: 'move', delta: -1 });
    expect(at('ArrowUp')).toEqual({ type: 'move', delta: -1 });
    expect(at('Enter')).toEqual({ type: 'open' });
    expect(at('?')).toEqual({ type: 'toggleHelp' });
    expect(at('Escape')).toEqual({ type: 'closeHelp' });
    expect(at('t')).toEqual({ type: 'toggleTheme' });
    expect(at('z')).toEqual({ type: 'none' });
  });

  it('maps a, m, r and x to decisions on the selected row', () => {
    const at = (key: string) => handleKey(initialKeyState, { key }, 0).action;
    expect(at('a')).toEqual({ type: 'act', act: 'approve' });
    expect(at('m')).toEqual({ type: 'act', act: 'merge' });
    expect(at('r')).toEqual({ type: 'act', act: 'request_changes' });
    expect(at('x')).toEqual({ type: 'act', act: 'mark' });
    expect(handleKey(initialKeyState, { key: 'a', ctrlKey: true }, 0).action).toEqual({ type: 'none' });
  });
});

describe('moveSelection', () => {
  it('first move selects the first row', () => {
    expect(moveSelection(-1, 1, 5)).toBe(0);
    expect(moveSelection(-1, -1, 5)).toBe(0);
  });
  it('moves within bounds', () => {
    expect(moveSelection(0, 1, 5)).toBe(1);
    expect(moveSelection(3, -1, 5)).toBe(2);
  });
  it('stops at the ends', () => {
    expect(moveSelection(4, 1, 5)).toBe(4);
    expect(moveSelection(0, -1, 5)).toBe(0);
  });
  it('handles empty and shrunken lists', () => {
    expect(moveSelection(-1, 1, 0)).toBe(-1);
    expect(moveSelection(3, 1, 0)).toBe(-1);
    expect(moveSelection(9, 1, 5)).toBe(4);
  });
  it('j twice from nothing selects the second row', () => {
    expect(moveSelection(moveSelection(-1, 1, 3), 1, 3)).toBe(1);
  });
});

describe('isTypingTarget', () => {
  it('recognises form fields', () => {
    expect(isTypingTarget({ tagName: 'INPUT' })).toBe(true);
    expect(isTypingTarget({ tagName: 'textarea' })).toBe(true);
    expect(isTypingTarget({ tagName: 'SELECT' })).toBe(true);
    expect(isTypingTarget({ tagName: 'DIV', isContentEditable: true })).toBe(true);
    expect(isTypingTarget({ tagName: 'A' })).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});

describe('viewFromHash', () => {
  it('parses hashes', () => {
    expect(viewFromHash('#/changes')).toBe('changes');
    expect(viewFromHash('#/audit/extra')).toBe('audit');
    expect(viewFromHash('')).toBe('inbox');
    expect(viewFromHash('#/nope')).toBe('inbox');
  });
});

describe('run deep links', () => {
  it('round-trips a run id through the Agents hash', () => {
    const id = 'claude:9f1c-2b/x y?&#';
    const hash = agentsHashFor(id);
    expect(hash.startsWith('#/agents?run=')).toBe(true);
    expect(viewFromHash(hash)).toBe('agents');
    expect(runFromHash(hash)).toBe(id);
  });
  it('is null without a run or outside Agents', () => {
    expect(runFromHash('#/agents')).toBeNull();
    expect(runFromHash('#/agents?run=')).toBeNull();
    expect(runFromHash('#/changes?run=claude%3Aa')).toBeNull();
    expect(runFromHash('')).toBeNull();
  });
  it('sends a waiting session from the Inbox to its run, everything else to its view', () => {
    expect(inboxHash({ id: 'needs-you:codex:abc', kind: 'needs_you', view: 'agents' })).toBe('#/agents?run=codex%3Aabc');
    expect(inboxHash({ id: 'needs-you:', kind: 'needs_you', view: 'agents' })).toBe('#/agents');
    expect(inboxHash({ id: 'review:1', kind: 'review', view: 'changes' })).toBe('#/changes');
  });
});
