import { useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError, isDesktop, type Decide, type MergeMethod } from '../api';
import { bulkSummary, planBulk, showChanges, type BulkKind, type ChangeShow } from '../bulk';
import { DiffView } from '../DiffView';
import { AuthorCell, Badge, DataTable, Empty, ErrorBox, Lines, Loading, StateBadge, Time, ViewHeader, type Column } from '../components';
import { absoluteTime, int, money, repoBasename, shortHash, tokens } from '../format';
import type { Action } from '../generated/Action';
import type { Dispatch } from '../generated/Dispatch';
import { decideOrKeep, keptNotice } from '../pending';
import type { ChangeRow } from '../generated/ChangeRow';
import type { Check } from '../generated/Check';
import type { Mergeable } from '../generated/Mergeable';
import type { Verdict } from '../generated/Verdict';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';
import { agentsHashFor, type ListAct } from '../keys';

export function checksSummary(checks: Check[]): { ok: number; failed: number; pending: number; other: number } {
  const s = { ok: 0, failed: 0, pending: 0, other: 0 };
  for (const c of checks) {
    if (c.status !== 'completed' || c.conclusion === null) s.pending++;
    else if (c.conclusion === 'success') s.ok++;
    else if (c.conclusion === 'failure' || c.conclusion === 'timed_out' || c.conclusion === 'cancelled') s.failed++;
    else s.other++;
  }
  return s;
}

function Checks({ checks }: { checks: Check[] }) {
  if (checks.length === 0) return <span className="muted">no checks</span>;
  const s = checksSummary(checks);
  return (
    <span className="checks nowrap" title={checks.map((c) => `${c.name}: ${c.conclusion ?? c.status}`).join('\n')}>
      {s.failed ? <Badge tone="red">✗ {s.failed}</Badge> : null}
      {s.pending ? <Badge tone="blue">● {s.pending}</Badge> : null}
      {s.ok ? <Badge tone="green">✓ {s.ok}</Badge> : null}
      {s.other ? <Badge tone="grey">– {s.other}</Badge> : null}
    </span>
  );
}

/** Whether it merges cleanly, when that is news: conflicts, behind, blocked, draft. */
function MergeableBadge({ state }: { state: Mergeable | null }) {
  if (!state || state === 'clean') return null;
  const tone = state === 'conflicts' ? 'red' : state === 'draft' ? 'grey' : 'amber';
  return (
    <Badge tone={tone} title={`Mergeability: ${state}`}>
      {state}
    </Badge>
  );
}

const columns: Column<ChangeRow>[] = [
  {
    header: 'Title',
    cell: (r) => (
      <span className="strong" title={r.change.id}>
        {r.change.title}
        {r.change.state !== 'open' ? (
          <>
            {' '}
            <StateBadge state={r.change.state} />
          </>
        ) : (
          <>
            {' '}
            <MergeableBadge state={r.change.mergeable} />
          </>
        )}
        {r.change.labels.map((l) => (
          <span key={l} className="label-chip" data-testid="label">
            {l}
          </span>
        ))}
      </span>
    ),
    className: 'grow',
  },
  { header: 'Repo', cell: (r) => <span title={r.change.repo}>{repoBasename(r.change.repo)}</span>, className: 'nowrap' },
  {
    header: 'Branch',
    cell: (r) => (
      <code className="nowrap">
        {r.change.head} <span className="muted">→</span> {r.change.base}
      </code>
    ),
  },
  { header: 'Author', cell: (r) => <AuthorCell author={r.change.author} />, className: 'nowrap' },
  { header: 'Commits', cell: (r) => int(r.change.commits), className: 'num' },
  {
    header: 'Lines',
    cell: (r) => <Lines insertions={r.change.insertions} deletions={r.change.deletions} />,
    className: 'num',
  },
  {
    header: 'Files',
    cell: (r) => (r.change.files_changed === null ? '—' : int(r.change.files_changed)),
    className: 'num',
  },
  { header: 'Agent cost', cell: (r) => (r.change.agent_cost_usd > 0 ? money(r.change.agent_cost_usd) : <span className="muted">—</span>), className: 'num' },
  { header: 'Checks', cell: (r) => <Checks checks={r.checks} /> },
  { header: 'Policy', cell: (r) => <VerdictBadge row={r} />, className: 'nowrap' },
  { header: 'Updated', cell: (r, now) => <Time ts={r.change.updated_at} now={now} />, className: 'nowrap right' },
];

function failing(v: Verdict | null): string[] {
  return v ? v.reasons.filter((r) => !r.ok).map((r) => r.message) : [];
}

function VerdictBadge({ row }: { row: ChangeRow }) {
  if (row.change.state !== 'open') return <span className="muted">—</span>;
  if (!row.verdict) {
    return (
      <Badge tone="amber" title={row.policy_error ?? 'no verdict'}>
        no verdict
      </Badge>
    );
  }
  const why = failing(row.verdict);
  return why.length === 0 ? (
    <Badge tone="green" title={`Policy: ${row.verdict.policy}`}>
      ready
    </Badge>
  ) : (
    <Badge tone="amber" title={why.join('\n')}>
      blocked · {why.length}
    </Badge>
  );
}

type Notice = { ok: boolean; text: string };

/** What a decision did, in words: applied (with its result), queued or failed. */
function describe(kind: string, a: Pick<Action, 'state' | 'result' | 'last_error'>): Notice {
  const what = kind.replace('_', ' ');
  if (a.state === 'applied') return { ok: true, text: `${what}: ${a.result ?? 'done'}` };
  if (a.state === 'failed') return { ok: false, text: `${what} failed: ${a.last_error ?? 'unknown error'}` };
  return { ok: true, text: `${what} queued${a.last_error ? ` (${a.last_error})` : ''}; it is sent when the target answers` };
}

/** Decisions not (yet) applied: queued while the target is away, or failed with a reason (to
 * retry once the cause is fixed, or dismiss). */
function OutboxPanel({ onNotice }: { onNotice: (n: Notice) => void }) {
  const { data } = useApi(api.outbox, 'outbox');
  const pending = (data?.actions ?? []).filter((a) => a.state === 'queued' || a.state === 'failed');
  const resolve = async (key: string, kind: string, how: 'retry' | 'dismiss') => {
    try {
      const a = await api.resolve(key, how);
      onNotice(how === 'dismiss' ? { ok: true, text: `${kind.replace('_', ' ')} dismissed` } : describe(kind, a));
    } catch (e) {
      onNotice({ ok: false, text: (e as Error).message });
    }
  };
  if (pending.length === 0) return null;
  const failed = pending.filter((a) => a.state === 'failed').length;
  return (
    <details className="outbox" data-testid="outbox" open={failed > 0}>
      <summary>
        Outbox: {int(pending.length - failed)} waiting{failed ? `, ${int(failed)} failed` : ''}
      </summary>
      <ul className="plain">
        {pending.map((a) => (
          <li key={a.idempotency_key} className={a.state === 'failed' ? 'fail' : undefined}>
            <StateBadge state={a.state} /> <code>{a.kind.replace('_', ' ')}</code> {a.target}{' '}
            <span className="muted small">
              · {int(a.attempts)} attempt{a.attempts === 1 ? '' : 's'}
              {a.last_error ? ` · ${a.last_error}` : ''}
            </span>
            {a.state === 'failed' ? (
              <>
                {' '}
                <button type="button" className="small" onClick={() => resolve(a.idempotency_key, a.kind, 'retry')}>
                  Retry
                </button>{' '}
                <button type="button" className="link small" onClick={() => resolve(a.idempotency_key, a.kind, 'dismiss')}>
                  Dismiss
                </button>
              </>
            ) : null}
          </li>
        ))}
      </ul>
    </details>
  );
}

/** The policy's verdict on a change, every reason with ✓ or ✗. */
function VerdictReasons({ row }: { row: ChangeRow }) {
  return (
    <>
      <h4>
        Policy <span className="muted small">{row.verdict?.policy ?? row.policy_error}</span>
      </h4>
      {row.verdict ? (
        <ul className="plain verdict" data-testid="verdict" data-pass={String(row.verdict.pass)}>
          {row.verdict.reasons.map((r) => (
            <li key={`${r.rule}:${r.message}`} className={r.ok ? 'ok' : 'fail'}>
              {r.ok ? '✓' : '✗'} {r.message}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** The policy's reasons and the decision buttons of one open change request. */
function Decisions({
  row,
  send,
  commentRef,
}: {
  row: ChangeRow;
  send: (d: Decide) => Promise<boolean>;
  commentRef: React.RefObject<HTMLTextAreaElement | null>;
}) {
  const [comment, setComment] = useState('');
  const [method, setMethod] = useState<MergeMethod>('merge');
  const [override, setOverride] = useState<string | null>(null);
  const [closing, setClosing] = useState(false);
  const [busy, setBusy] = useState(false);
  // The configured agents a change can be sent back to (with the comments as their prompt).
  const { data: board } = useApi(api.work, 'work');
  const agents = board?.agents.map((a) => a.name) ?? [];
  const owner = row.work_items.map((w) => w.assignee ?? '').find((a) => a.startsWith('agent:'))?.slice(6);
  const [backTo, setBackTo] = useState<string>('');
  const agent = backTo || (owner && agents.includes(owner) ? owner : agents[0]) || '';
  const why = failing(row.verdict);
  const blocked = !row.verdict || why.length > 0;
  const run = async (d: Decide) => {
    setBusy(true);
    const ok = await send(d);
    setBusy(false);
    if (ok) {
      setComment('');
      setOverride(null);
      setClosing(false);
    }
  };
  const text = comment.trim() || undefined;
  return (
    <div className="decisions" data-testid="decisions">
      <VerdictReasons row={row} />
      <textarea
        ref={commentRef}
        className="comment"
        aria-label="Comment"
        placeholder="Comment (needed to request changes)"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        rows={2}
      />
      <div className="actions-bar">
        <button type="button" disabled={busy} onClick={() => run({ kind: 'approve', comment: text })}>
          Approve <kbd>a</kbd>
        </button>
        <button
          type="button"
          disabled={busy || !text}
          title={text ? '' : 'Write what to change first'}
          onClick={() => run({ kind: 'request_changes', comment: text })}
        >
          Request changes <kbd>r</kbd>
        </button>
        {agents.length > 0 && row.change.kind === 'local' ? (
          <>
            <button
              type="button"
              disabled={busy || !text}
              title={text ? `${agent} gets your comments and the diff as its next prompt, on this branch` : 'Write what to change first'}
              onClick={() => run({ kind: 'request_changes', comment: text, send_back: agent })}
            >
              Request changes and send back to
            </button>
            <select aria-label="Send back to" value={agent} onChange={(e) => setBackTo(e.target.value)}>
              {agents.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </>
        ) : null}
        <select aria-label="Merge method" value={method} onChange={(e) => setMethod(e.target.value as MergeMethod)}>
          <option value="merge">merge</option>
          <option value="squash">squash</option>
          <option value="rebase">rebase</option>
        </select>
        <button
          type="button"
          className="primary"
          disabled={busy || blocked}
          title={blocked ? `Blocked: ${why.join('; ') || row.policy_error || 'no verdict'}` : 'Merge the reviewed head'}
          onClick={() => run({ kind: 'merge', method })}
        >
          Merge <kbd>m</kbd>
        </button>
        {blocked && override === null ? (
          <button type="button" className="link" disabled={busy} onClick={() => setOverride('')}>
            Override…
          </button>
        ) : null}
        {closing ? (
          <>
            <button type="button" className="danger" disabled={busy} onClick={() => run({ kind: 'close', comment: text })}>
              Close without merging
            </button>
            <button type="button" className="link" onClick={() => setClosing(false)}>
              Keep open
            </button>
          </>
        ) : (
          <button
            type="button"
            className="link"
            disabled={busy}
            title={row.change.kind === 'local' ? 'The branch is kept; new commits reopen it' : 'Closes the pull request'}
            onClick={() => setClosing(true)}
          >
            Close…
          </button>
        )}
      </div>
      {blocked ? (
        <p className="muted small" data-testid="merge-blocked">
          Merge is blocked: {why.join('; ') || row.policy_error || 'no verdict'}.
        </p>
      ) : null}
      {override !== null ? (
        <div className="actions-bar">
          <input
            aria-label="Override reason"
            placeholder="Why merge against the policy? (kept in the audit log)"
            value={override}
            onChange={(e) => setOverride(e.target.value)}
            size={48}
          />
          <button
            type="button"
            disabled={busy || override.trim() === ''}
            onClick={() => run({ kind: 'merge', method, override_reason: override.trim() })}
          >
            Merge anyway
          </button>
          <button type="button" className="link" onClick={() => setOverride(null)}>
            Cancel
          </button>
        </div>
      ) : null}
    </div>
  );
}

function detail(r: ChangeRow, decisions: React.ReactNode, onHead: (head: string) => void) {
  return (
    <div className="detail-body">
      <dl className="kv">
        <dt>id</dt>
        <dd>
          <code>{r.change.id}</code>
        </dd>
        <dt>head</dt>
        <dd>
          <code data-testid="head-sha">{shortHash(r.change.head_sha, 12)}</code> ({r.change.kind})
        </dd>
        <dt>repo</dt>
        <dd>
          <code>{r.change.repo}</code>
        </dd>
        <dt>work item</dt>
        <dd data-testid="work-items">
          {r.work_items.length ? (
            r.work_items.map((w) => (
              <span key={w.id}>
                <code>{w.id}</code> {w.title} <span className="muted small">({w.state}{w.assignee ? `, ${w.assignee}` : ''})</span>{' '}
              </span>
            ))
          ) : (
            <span className="muted">none linked</span>
          )}
        </dd>
        <dt>mergeable</dt>
        <dd data-testid="mergeable">{r.change.mergeable ?? <span className="muted">not known yet</span>}</dd>
        {r.change.labels.length ? (
          <>
            <dt>labels</dt>
            <dd>{r.change.labels.join(', ')}</dd>
          </>
        ) : null}
        {r.change.requested_reviewers.length ? (
          <>
            <dt>review requested</dt>
            <dd>{r.change.requested_reviewers.join(', ')}</dd>
          </>
        ) : null}
        <dt>agent runs</dt>
        <dd>
          {r.run_summaries.length ? (
            <ul className="plain" data-testid="linked-runs">
              {r.run_summaries.map((run) => (
                <li key={run.id}>
                  <a href={agentsHashFor(run.id)}>{run.title || run.id}</a>{' '}
                  <span className="muted small">
                    {run.agent} · {run.model} · {int(run.turns)} turns · {tokens(run.tokens)} tokens · {money(run.cost_usd)} ·{' '}
                    {run.state}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <span className="muted">no linked agent runs</span>
          )}
        </dd>
      </dl>
      {r.checks.length ? (
        <ul className="plain">
          {r.checks.map((c) => (
            <li key={c.name}>
              <StateBadge state={c.conclusion ?? c.status} /> {c.url ? <a href={c.url} target="_blank" rel="noreferrer">{c.name}</a> : c.name}
            </li>
          ))}
        </ul>
      ) : null}
      <DiffView changeId={r.change.id} onHead={onHead} />
      {decisions}
    </div>
  );
}

/** How many open changes' diffs (first page) are kept on this device for reading offline. */
const KEEP_DIFFS = 20;

/** In a browser, fetches the open changes' diffs in the background, one at a time, so their
 * review pages read with no connection later (the answers are kept by `getJson`). */
function useKeepDiffs(changes: ChangeRow[] | undefined) {
  const ids = useMemo(
    () =>
      (changes ?? [])
        .filter((r) => r.change.state === 'open')
        .slice(0, KEEP_DIFFS)
        .map((r) => `${r.change.id}@${r.change.head_sha}`)
        .join(' '),
    [changes],
  );
  useEffect(() => {
    if (!ids || isDesktop() || (typeof navigator !== 'undefined' && !navigator.onLine)) return;
    const ctl = new AbortController();
    void (async () => {
      for (const id of ids.split(' ').map((x) => x.slice(0, x.lastIndexOf('@')))) {
        if (ctl.signal.aborted) return;
        await api.diff(id, 1, ctl.signal).catch(() => undefined);
      }
    })();
    return () => ctl.abort();
  }, [ids]);
}

export default function Changes({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.changes, 'changes');
  useKeepDiffs(data?.changes);
  // The review queue by default; the merged and closed history one click away.
  const [show, setShow] = useState<ChangeShow>('open');
  const { rows, counts } = useMemo(() => showChanges(data?.changes ?? [], show), [data, show]);
  const [expanded, toggle, setExpanded] = useExpanded();
  const choose = (next: ChangeShow) => {
    setShow(next);
    setSelected(0);
    setExpanded(-1);
  };
  // The open row follows its change when the list moves under it (a merged change leaves the
  // open list), and closes when its change is no longer listed.
  const expandedId = useRef<string | null>(null);
  useEffect(() => {
    expandedId.current = expanded >= 0 ? (rows[expanded]?.change.id ?? null) : null;
    // Only a new choice of row is recorded here; a new list is handled below.
  }, [expanded]);
  useEffect(() => {
    const id = expandedId.current;
    if (id === null) return;
    const at = rows.findIndex((r) => r.change.id === id);
    if (at !== expanded) setExpanded(at);
  }, [rows]);
  const [notice, setNotice] = useState<Notice | null>(null);
  const commentRef = useRef<HTMLTextAreaElement | null>(null);
  // Change requests marked for a bulk decision (x or the row's checkbox), by id.
  const [marked, setMarked] = useState<ReadonlySet<string>>(new Set());
  const toggleMark = (id: string) =>
    setMarked((m) => {
      const next = new Set(m);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const markColumn: Column<ChangeRow> = useMemo(
    () => ({
      header: '',
      cell: (r) => (
        <input
          type="checkbox"
          aria-label={`Mark ${r.change.title}`}
          checked={marked.has(r.change.id)}
          onChange={() => toggleMark(r.change.id)}
          onClick={(e) => e.stopPropagation()}
        />
      ),
      className: 'nowrap',
    }),
    [marked],
  );
  const allColumns = useMemo(() => [markColumn, ...columns], [markColumn]);

  /** The head of the diff each open review page shows, by change id. */
  const shownHeads = useRef(new Map<string, string>());

  /** Sends a decision; true when it was taken (applied or queued). */
  const send = async (row: ChangeRow, d: Decide): Promise<boolean> => {
    try {
      // The head whose diff the lead read (a stored copy may be of an older one, when the forge
      // is out of reach): a change that moved past it is refused, not decided blind.
      const head_sha = shownHeads.current.get(row.change.id) ?? row.change.head_sha;
      const got = await decideOrKeep<Action & { dispatch?: Dispatch | null }>(
        api.decidePath(row.change.id),
        { ...d, head_sha },
        `${d.kind.replace('_', ' ')} ${row.change.title}`,
      );
      if ('kept' in got) {
        setNotice({ ok: true, text: keptNotice(got.kept) });
        return true;
      }
      const a = got.sent;
      const n = describe(d.kind, a);
      if (a.dispatch) n.text += ` · sent back to ${a.dispatch.agent} (${a.dispatch.id})`;
      setNotice(n);
      return n.ok;
    } catch (e) {
      const err = e instanceof ApiError ? e : null;
      const text = err?.reasons.length ? `The policy refuses: ${err.reasons.join('; ')}` : (e as Error).message;
      setNotice({ ok: false, text });
      return false;
    }
  };

  /** Sends `kind` to every marked change the plan allows, one after another. */
  const bulk = async (kind: BulkKind) => {
    const plan = planBulk(rows, marked, kind);
    let done = 0;
    const failed: string[] = [];
    for (const id of plan.send) {
      // Each as it was shown: one that moved since is refused, not decided blind.
      const head_sha = rows.find((r) => r.change.id === id)?.change.head_sha;
      try {
        const a = await api.decide(id, kind === 'merge' ? { kind, method: 'merge', head_sha } : { kind, head_sha });
        if (a.state === 'failed') failed.push(`${id}: ${a.last_error ?? 'failed'}`);
        else done++;
      } catch (e) {
        failed.push(`${id}: ${(e as Error).message}`);
      }
    }
    setNotice({ ok: failed.length === 0, text: bulkSummary(kind, done, failed, plan) });
    setMarked(new Set());
  };

  // a / m / r / x from the keyboard: on the marked rows when there are any, else the selected.
  const act = (index: number, which: ListAct) => {
    const row = rows[index];
    if (which !== 'approve' && which !== 'merge' && which !== 'request_changes' && which !== 'mark') return;
    if (which === 'mark') {
      if (row) toggleMark(row.change.id);
      return;
    }
    if (marked.size > 0 && (which === 'approve' || which === 'merge')) {
      void bulk(which);
      return;
    }
    if (!row || row.change.state !== 'open') return;
    if (which === 'approve') void send(row, { kind: 'approve' });
    else if (which === 'merge' && row.verdict?.pass) void send(row, { kind: 'merge', method: 'merge' });
    else {
      // Merge when blocked shows why; request changes needs words: open the row's decisions.
      setExpanded(index);
      if (which === 'request_changes') setTimeout(() => commentRef.current?.focus(), 0);
    }
  };
  useList(list, rows.length, toggle, undefined, act);
  const agentRows = rows.filter((r) => r.change.author.kind === 'agent').length;
  return (
    <section data-testid="view-changes" className="view">
      <ViewHeader title="Changes">{data ? `${rows.length} changes · ${agentRows} by agents` : null}</ViewHeader>
      {data?.github && data.github.repos > 0 ? (
        <p className="muted small" data-testid="github-status">
          GitHub: {int(data.github.repos)} repos, {int(data.github.open)} open pull requests · synced{' '}
          <Time ts={data.github.last_synced} now={now} /> · rate limit {int(data.github.rate_remaining)}/
          {int(data.github.rate_limit)}
          {data.github.rate_remaining === 0 ? <> (resets {absoluteTime(data.github.rate_reset)})</> : null}
          {data.github.error ? <span className="detail-error"> · {data.github.error}</span> : null}
        </p>
      ) : null}
      {error ? <ErrorBox message={error} /> : null}
      <OutboxPanel onNotice={setNotice} />
      {data && counts.all > 0 ? (
        <div className="segmented" role="group" aria-label="Show changes" data-testid="changes-filter">
          {(
            [
              ['open', 'Open'],
              ['decided', 'Merged & closed'],
              ['all', 'All'],
            ] as const
          ).map(([key, label]) => (
            <button key={key} type="button" aria-pressed={show === key} onClick={() => choose(key)}>
              {label} <span className="muted">{int(counts[key])}</span>
            </button>
          ))}
        </div>
      ) : null}
      {marked.size > 0 ? (
        <div className="actions-bar bulk" data-testid="bulk-bar">
          <span className="strong">{int(marked.size)} marked</span>
          <button type="button" onClick={() => void bulk('approve')}>
            Approve all <kbd>a</kbd>
          </button>
          <button type="button" className="primary" onClick={() => void bulk('merge')}>
            Merge the ready ones <kbd>m</kbd>
          </button>
          <button type="button" className="link" onClick={() => setMarked(new Set())}>
            Clear
          </button>
        </div>
      ) : null}
      {notice ? (
        <p className={`notice ${notice.ok ? 'ok' : 'fail'}`} role="status" data-testid="decision-notice">
          {notice.text}
        </p>
      ) : null}
      {loading && !data ? <Loading /> : null}
      {data && rows.length === 0 && counts.all > 0 ? (
        <Empty>
          {show === 'open' ? 'Nothing open to review.' : 'Nothing merged or closed yet.'}{' '}
          <button type="button" className="link" onClick={() => choose('all')}>
            Show all {int(counts.all)}
          </button>
        </Empty>
      ) : null}
      {data && counts.all === 0 ? (
        <Empty>
          No changes yet. Agent branches such as <code>claude/*</code> or <code>codex/*</code> that are ahead of{' '}
          <code>main</code> in a watched repository appear here, as do GitHub pull requests when a token is configured.
          Watch a repository with <code>flightdeck serve --repo PATH</code>, or run <code>flightdeck demo</code>.
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        <DataTable
          label="Changes"
          items={rows}
          columns={allColumns}
          rowKey={(r) => r.change.id}
          selected={selected}
          expanded={expanded}
          now={now}
          onSelect={setSelected}
          onOpen={toggle}
          detail={(r) =>
            detail(
              r,
              r.change.state === 'open' ? <Decisions row={r} send={(d) => send(r, d)} commentRef={commentRef} /> : null,
              (head) => shownHeads.current.set(r.change.id, head),
            )
          }
        />
      ) : null}
      {data && data.closed_not_listed > 0 && show !== 'open' ? (
        <p className="muted small" data-testid="closed-not-listed">
          {int(data.closed_not_listed)} older merged or closed changes are not listed; Velocity counts them all.
        </p>
      ) : null}
    </section>
  );
}
