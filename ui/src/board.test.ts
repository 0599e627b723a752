import { describe, expect, it } from 'vitest';
import { assigneeLabel, cardsOf, moveTarget } from './board';
import type { BoardItem } from './generated/BoardItem';
import type { WorkBoard } from './generated/WorkBoard';

function item(id: string): BoardItem {
  return {
    work: { id, title: id, body: '', repo: null, assignee: null, state: 'todo', source: 'cockpit', labels: [], created_at: 0, updated_at: 0, links: [] },
    dispatch: null,
    runs: 0,
    cost_usd: 0,
  };
}

const load = { open: 0, running: 0, review_queue: 0 };
const board: WorkBoard = {
  columns: [
    { assignee: null, load, items: [item('W-1')] },
    { assignee: 'person:ana', load, items: [item('W-2'), item('W-3')] },
    { assignee: 'agent:claude', load, items: [] },
  ],
  agents: [],
  states: ['todo', 'in_progress', 'in_review', 'done', 'dropped'],
};

describe('board', () => {
  it('walks cards column by column', () => {
    expect(cardsOf(board).map((c) => [c.column, c.item.work.id])).toEqual([
      [0, 'W-1'],
      [1, 'W-2'],
      [1, 'W-3'],
    ]);
    expect(cardsOf(null)).toEqual([]);
  });

  it('moves a card to the next column with an assignee, never to nobody', () => {
    const [unassigned, ana] = cardsOf(board);
    expect(moveTarget(board, unassigned, 1)).toBe('person:ana');
    expect(moveTarget(board, unassigned, -1)).toBeNull();
    expect(moveTarget(board, ana, 1)).toBe('agent:claude');
    expect(moveTarget(board, ana, -1)).toBeNull();
  });

  it('labels assignees', () => {
    expect(assigneeLabel('agent:claude')).toBe('claude (agent)');
    expect(assigneeLabel('person:ana')).toBe('ana');
    expect(assigneeLabel(null)).toBe('Unassigned');
  });
});
