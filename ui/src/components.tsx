import { Fragment, memo, type ReactNode } from 'react';
import type { Author } from './generated/Author';
import { absoluteTime, int, relativeTime } from './format';

export function Badge({ tone, children, title }: { tone?: string; children: ReactNode; title?: string }) {
  return (
    <span className={`badge ${tone ? `badge-${tone}` : ''}`} title={title}>
      {children}
    </span>
  );
}

/** Colour for a state/status word. */
export function toneFor(word: string | null | undefined): string {
  switch (word) {
    case 'running':
    case 'in_progress':
    case 'queued':
    case 'pending':
    case 'open':
      return 'blue';
    case 'success':
    case 'finished':
    case 'deployed':
    case 'approved':
    case 'merged':
    case 'completed':
      return 'green';
    case 'failed':
    case 'failure':
    case 'rejected':
    case 'timed_out':
    case 'failing_check':
    case 'action_failed':
    case 'failed_deploy':
    case 'guardrail':
      return 'red';
    case 'idle':
    case 'stopped':
    case 'closed':
    case 'cancelled':
    case 'skipped':
    case 'neutral':
      return 'grey';
    case 'release_gate':
    case 'budget':
      return 'amber';
    case 'needs_you':
      return 'needs';
    case 'review':
    case 'review_requested':
    case 'green_waiting':
      return 'purple';
    default:
      return 'grey';
  }
}

export function StateBadge({ state }: { state: string | null | undefined }) {
  return <Badge tone={toneFor(state)}>{state ? state.replace(/_/g, ' ') : 'none'}</Badge>;
}

/** A pulsing dot: something is live right now. */
export function LiveDot() {
  return <span className="pulse" aria-hidden="true" />;
}

/**
 * An agent run's state. `idle` means the session asked its user a question or for permission
 * and waits, so it reads "needs you" and stands out; `running` pulses.
 */
export function RunStateBadge({ state }: { state: string }) {
  if (state === 'idle') {
    return (
      <Badge tone="needs" title="The session asked its user a question or for permission and is waiting">
        ● needs you
      </Badge>
    );
  }
  if (state === 'running') {
    return (
      <Badge tone="blue" title="The agent is working">
        <LiveDot /> running
      </Badge>
    );
  }
  return <StateBadge state={state} />;
}

export function AgentBadge({ agent }: { agent: string }) {
  return (
    <Badge tone="agent" title={`agent: ${agent}`}>
      ◆ {agent}
    </Badge>
  );
}

export function AuthorCell({ author }: { author: Author }) {
  return author.kind === 'agent' ? (
    <AgentBadge agent={author.agent} />
  ) : (
    <span className="human" title="human">
      {author.name}
    </span>
  );
}

export function Time({ ts, now }: { ts: number | null | undefined; now: number }) {
  return (
    <time className="muted nowrap" title={absoluteTime(ts)}>
      {relativeTime(ts, now)}
    </time>
  );
}

export function Loading() {
  return (
    <div className="state loading" data-testid="loading" role="status">
      Loading…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="state empty" data-testid="empty">
      {children}
    </div>
  );
}

export function ErrorBox({ message }: { message: string }) {
  return (
    <div className="state error" data-testid="error" role="alert">
      <strong>Could not load this view.</strong> {message}
    </div>
  );
}

export function ViewHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="view-header">
      <h1>{title}</h1>
      {children ? <div className="view-meta">{children}</div> : null}
    </div>
  );
}

// ---- the main-list table ---------------------------------------------------------------------

export type Column<T> = {
  header: string;
  cell: (item: T, now: number) => ReactNode;
  className?: string;
};

type RowProps<T> = {
  item: T;
  index: number;
  selected: boolean;
  expanded: boolean;
  columns: Column<T>[];
  now: number;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
  sub?: (item: T, now: number) => ReactNode;
  detail?: (item: T, now: number) => ReactNode;
  rowClass?: (item: T) => string | undefined;
};

function RowInner<T>({ item, index, selected, expanded, columns, now, onSelect, onOpen, sub, detail, rowClass }: RowProps<T>) {
  const subContent = sub ? sub(item, now) : null;
  const extra = rowClass?.(item);
  return (
    <Fragment>
      <tr
        data-testid="row"
        data-index={index}
        aria-selected={selected}
        aria-expanded={detail ? expanded : undefined}
        className={`row${selected ? ' sel' : ''}${extra ? ` ${extra}` : ''}`}
        onClick={() => {
          onSelect(index);
          // On a touch screen there is no double click and no keyboard: a tap opens the row.
          if (detail && !expanded && coarsePointer()) onOpen(index);
        }}
        onDoubleClick={() => onOpen(index)}
      >
        {columns.map((c, i) => (
          <td key={i} className={c.className}>
            {c.cell(item, now)}
          </td>
        ))}
      </tr>
      {subContent ? (
        <tr className={selected ? 'sub sel' : 'sub'} onClick={() => onSelect(index)}>
          <td colSpan={columns.length}>{subContent}</td>
        </tr>
      ) : null}
      {expanded && detail ? (
        <tr className="detail">
          <td colSpan={columns.length}>{detail(item, now)}</td>
        </tr>
      ) : null}
    </Fragment>
  );
}

/** A touch screen (a finger, not a mouse), as the browser says. */
function coarsePointer(): boolean {
  return typeof window !== 'undefined' && !!window.matchMedia?.('(pointer: coarse)').matches;
}

// memo keeps a j/k keypress down to re-rendering the two rows whose selection changed.
const Row = memo(RowInner) as typeof RowInner;

export function DataTable<T>(props: {
  items: T[];
  columns: Column<T>[];
  rowKey: (item: T, index: number) => string;
  selected: number;
  expanded?: number;
  now: number;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
  sub?: (item: T, now: number) => ReactNode;
  detail?: (item: T, now: number) => ReactNode;
  /** Extra class names for an item's row (stable function: rows are memoized). */
  rowClass?: (item: T) => string | undefined;
  label: string;
  offset?: number;
}) {
  const offset = props.offset ?? 0;
  return (
    <table className="grid" aria-label={props.label}>
      <thead>
        <tr>
          {props.columns.map((c, i) => (
            <th key={i} className={c.className}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.items.map((item, i) => (
          <Row
            key={props.rowKey(item, i)}
            item={item}
            index={i + offset}
            selected={props.selected === i + offset}
            expanded={props.expanded === i + offset}
            columns={props.columns}
            now={props.now}
            onSelect={props.onSelect}
            onOpen={props.onOpen}
            sub={props.sub}
            detail={props.detail}
            rowClass={props.rowClass}
          />
        ))}
      </tbody>
    </table>
  );
}

/** A horizontal share bar (0..1). */
export function ShareBar({ share, tone }: { share: number; tone?: string }) {
  const pct = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0)) * 100;
  return (
    <span className="bar" aria-hidden="true">
      <span className={`bar-fill ${tone ? `bar-${tone}` : ''}`} style={{ width: `${pct}%` }} />
    </span>
  );
}

/** Lines added and removed; "unknown" when the diffstat could not be computed (a partial or
 * shallow clone, a forge listing without it): never shown as +0 −0. */
export function Lines({ insertions, deletions }: { insertions: number | null; deletions: number | null }) {
  if (insertions === null || deletions === null) {
    return (
      <span className="muted" title="not computed: the objects are not in this clone, or the forge did not say">
        unknown
      </span>
    );
  }
  return (
    <span className="nowrap">
      <span className="add">+{int(insertions)}</span> <span className="del">−{int(deletions)}</span>
    </span>
  );
}
