// The Changes view's list logic, kept pure so it can be unit-tested: which change requests are
// shown (the review queue, the decided history, or all), and for bulk decisions which marked
// change requests a decision goes to, and which are left out and why.

import type { ChangeRow } from './generated/ChangeRow';

export type BulkKind = 'approve' | 'merge';

export type BulkPlan = {
  /** Change request ids the decision is sent to, in list order. */
  send: string[];
  /** Marked change requests left out, with the reason. */
  skipped: { id: string; why: string }[];
};

/**
 * Plans `kind` over the marked rows: only open change requests are acted on, and a merge only
 * goes to those the policy passes (a blocked one needs its own override, with its own reason).
 */
export function planBulk(rows: ChangeRow[], marked: ReadonlySet<string>, kind: BulkKind): BulkPlan {
  const plan: BulkPlan = { send: [], skipped: [] };
  for (const r of rows) {
    const id = r.change.id;
    if (!marked.has(id)) continue;
    if (r.change.state !== 'open') {
      plan.skipped.push({ id, why: r.change.state });
    } else if (kind === 'merge' && !r.verdict?.pass) {
      const reasons = r.verdict?.reasons.filter((x) => !x.ok).map((x) => x.message) ?? [];
      plan.skipped.push({ id, why: `blocked: ${reasons.join('; ') || r.policy_error || 'no verdict'}` });
    } else {
      plan.send.push(id);
    }
  }
  return plan;
}

/** One line on what a bulk decision did. */
export function bulkSummary(kind: BulkKind, done: number, failed: string[], plan: BulkPlan): string {
  const verb = kind === 'approve' ? 'approved' : 'merged';
  const parts = [`${verb} ${done} of ${plan.send.length + plan.skipped.length}`];
  if (failed.length) parts.push(`failed: ${failed.join('; ')}`);
  if (plan.skipped.length) parts.push(`skipped ${plan.skipped.map((s) => `${s.id} (${s.why})`).join(', ')}`);
  return parts.join(' · ');
}

/** What the Changes view lists: open ones (the review queue, the default), decided ones
 * (merged or closed), or all. */
export type ChangeShow = 'open' | 'decided' | 'all';

/** The rows `show` lists, in their order, and how many each choice would list. */
export function showChanges(
  rows: ChangeRow[],
  show: ChangeShow,
): { rows: ChangeRow[]; counts: Record<ChangeShow, number> } {
  const open = rows.filter((r) => r.change.state === 'open');
  const decided = rows.filter((r) => r.change.state !== 'open');
  const shown = show === 'open' ? open : show === 'decided' ? decided : rows;
  return { rows: shown, counts: { open: open.length, decided: decided.length, all: rows.length } };
}
