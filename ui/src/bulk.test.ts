import { describe, expect, it } from 'vitest';
import { bulkSummary, planBulk, showChanges } from './bulk';
import type { ChangeRow } from './generated/ChangeRow';

function row(id: string, state: string, pass: boolean | null): ChangeRow {
  return {
    change: {
      id,
      kind: 'local',
      repo: '/w/app',
      title: id,
      head: id,
      base: 'main',
      head_sha: 'abc',
      author: { kind: 'agent', agent: 'claude-code' },
      state,
      created_at: 0,
      updated_at: 0,
      commits: 1,
      files_changed: 1,
      insertions: 1,
      deletions: 0,
      agent_cost_usd: 0,
      labels: [],
      requested_reviewers: [],
      mergeable: 'clean',
      merged_at: null,
      first_commit_at: null,
    },
    checks: [],
    runs: [],
    run_summaries: [],
    verdict:
      pass === null
        ? null
        : { pass, policy: 'built-in', reasons: pass ? [] : [{ rule: 'approvals', ok: false, message: '0 of 1 human approvals' }] },
    policy_error: pass === null ? 'bad policy.toml' : null,
    work_items: [],
  } as ChangeRow;
}

const rows = [row('a', 'open', true), row('b', 'open', false), row('c', 'merged', true), row('d', 'open', null), row('e', 'open', true)];

describe('planBulk', () => {
  it('approves every marked open change, in list order', () => {
    const plan = planBulk(rows, new Set(['e', 'a', 'b', 'c']), 'approve');
    expect(plan.send).toEqual(['a', 'b', 'e']);
    expect(plan.skipped).toEqual([{ id: 'c', why: 'merged' }]);
  });

  it('merges only what the policy passes, saying why the rest is left', () => {
    const plan = planBulk(rows, new Set(['a', 'b', 'd']), 'merge');
    expect(plan.send).toEqual(['a']);
    expect(plan.skipped).toEqual([
      { id: 'b', why: 'blocked: 0 of 1 human approvals' },
      { id: 'd', why: 'blocked: bad policy.toml' },
    ]);
  });

  it('does nothing without marks', () => {
    expect(planBulk(rows, new Set(), 'approve')).toEqual({ send: [], skipped: [] });
  });
});

describe('bulkSummary', () => {
  it('counts what was done, failed and skipped', () => {
    const plan = planBulk(rows, new Set(['a', 'b', 'e']), 'merge');
    expect(bulkSummary('merge', 1, ['e: conflicts in x.rs'], plan)).toBe(
      'merged 1 of 3 · failed: e: conflicts in x.rs · skipped b (blocked: 0 of 1 human approvals)',
    );
  });
});

describe('showChanges', () => {
  const list = [row('a', 'open', true), row('m', 'merged', null), row('b', 'open', false), row('x', 'closed', null)];
  const ids = (show: 'open' | 'decided' | 'all') => showChanges(list, show).rows.map((r) => r.change.id);

  it('lists the open ones by default choice, the decided ones, or all, in order', () => {
    expect(ids('open')).toEqual(['a', 'b']);
    expect(ids('decided')).toEqual(['m', 'x']);
    expect(ids('all')).toEqual(['a', 'm', 'b', 'x']);
  });

  it('counts what each choice would list', () => {
    expect(showChanges(list, 'open').counts).toEqual({ open: 2, decided: 2, all: 4 });
  });
});
