// The work board's pure parts: the cards in keyboard order (column by column, top to bottom),
// and where a card goes when it is moved one column left or right (reassigned).

import type { BoardItem } from './generated/BoardItem';
import type { WorkBoard } from './generated/WorkBoard';
import type { WorkState } from './generated/WorkState';

export type Card = { column: number; item: BoardItem };

/** Every card, column by column: the order j / k walk. */
export function cardsOf(board: WorkBoard | null): Card[] {
  if (!board) return [];
  return board.columns.flatMap((c, column) => c.items.map((item) => ({ column, item })));
}

/**
 * The assignee a card moved `delta` columns over would get: the nearest column that has an
 * assignee (work cannot be handed to "nobody"), or null at the edge.
 */
export function moveTarget(board: WorkBoard, card: Card, delta: -1 | 1): string | null {
  for (let c = card.column + delta; c >= 0 && c < board.columns.length; c += delta) {
    const a = board.columns[c].assignee;
    if (a) return a;
  }
  return null;
}

/** `agent:claude` → `claude (agent)`, `person:ana` → `ana`, none → `Unassigned`. */
export function assigneeLabel(a: string | null): string {
  if (!a) return 'Unassigned';
  if (a.startsWith('agent:')) return `${a.slice(6)} (agent)`;
  if (a.startsWith('person:')) return a.slice(7);
  return a;
}

export const STATE_LABEL: Record<WorkState, string> = {
  todo: 'to do',
  in_progress: 'in progress',
  in_review: 'in review',
  done: 'done',
  dropped: 'dropped',
};
