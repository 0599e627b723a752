import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api';
import { AgentBadge, Badge, DataTable, Empty, ErrorBox, LiveDot, Loading, RunStateBadge, Time, ViewHeader, type Column } from '../components';
import { duration, int, money, repoBasename, runDuration, tokens, totalTokens } from '../format';
import type { AgentRun } from '../generated/AgentRun';
import { useApi, useList, type ViewProps } from '../hooks';
import { runFromHash } from '../keys';
import { RunDetailPanel } from '../RunDetailPanel';

const columns: Column<AgentRun>[] = [
  { header: 'Agent', cell: (r) => <AgentBadge agent={r.agent} />, className: 'nowrap' },
  {
    header: 'Model',
    cell: (r) => (
      <code className="muted clamp-sm" title={r.models.length > 1 ? `models: ${r.models.join(', ')}` : r.model}>
        {r.models.length > 1 ? `+${r.models.length - 1} ` : ''}
        {r.model}
      </code>
    ),
    className: 'nowrap',
  },
  { header: 'Title', cell: (r) => <span className="strong clamp" title={r.title}>{r.title || <span className="muted">(no prompt)</span>}</span>, className: 'grow' },
  { header: 'Repo', cell: (r) => <span title={r.repo ?? r.cwd}>{r.repo ? repoBasename(r.repo) : <span className="muted">{repoBasename(r.cwd)}</span>}</span>, className: 'nowrap' },
  { header: 'Branch', cell: (r) => (r.branch ? <code className="clamp-sm" title={r.branch}>{r.branch}</code> : <span className="muted">—</span>), className: 'nowrap' },
  {
    header: 'State',
    cell: (r) => (
      <span className="nowrap">
        <RunStateBadge state={r.state} />
        {r.errors > 0 ? (
          <>
            {' '}
            <Badge tone="red" title="API errors and aborted turns">
              {int(r.errors)} err
            </Badge>
          </>
        ) : null}
        {r.skipped_lines > 0 ? (
          <>
            {' '}
            <Badge tone="amber" title="lines of the session log that could not be read">
              {int(r.skipped_lines)} skipped
            </Badge>
          </>
        ) : null}
      </span>
    ),
  },
  { header: 'Started', cell: (r, now) => <Time ts={r.started_at} now={now} />, className: 'nowrap' },
  { header: 'Duration', cell: (r, now) => duration(runDuration(r, now)), className: 'num' },
  {
    header: 'Tokens',
    cell: (r) => (
      <span title={`input ${int(r.tokens.input)} · output ${int(r.tokens.output)} · cache write ${int(r.tokens.cache_write)} · cache read ${int(r.tokens.cache_read)}`}>
        {tokens(totalTokens(r.tokens))}
      </span>
    ),
    className: 'num',
  },
  { header: 'Cost', cell: (r) => money(r.cost_usd), className: 'num' },
];

const rowClass = (r: AgentRun) => (r.state === 'idle' ? 'needs' : undefined);

export default function Agents({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.agents, 'agents');
  const runs = data?.runs ?? [];
  const agents = data?.agents ?? [];
  const waiting = runs.filter((r) => r.state === 'idle').length;
  // The open panel follows its run by id, so a refetch that reorders the list cannot swap it.
  const [openId, setOpenId] = useState<string | null>(null);
  const runsRef = useRef(runs);
  runsRef.current = runs;
  const expanded = openId === null ? -1 : runs.findIndex((r) => r.id === openId);
  const toggle = useCallback((index: number) => {
    const id = runsRef.current[index]?.id ?? null;
    setOpenId((current) => (current === id ? null : id));
  }, []);
  const openAt = useCallback((index: number) => setOpenId(runsRef.current[index]?.id ?? null), []);
  const closePanel = useCallback(() => setOpenId(null), []);
  const close = () => {
    if (expanded < 0) return false;
    setOpenId(null);
    return true;
  };
  useList(list, runs.length, toggle, close);

  // A click selects the row and opens its details (Enter toggles them, Escape closes).
  const onClick = useCallback(
    (index: number) => {
      setSelected(index);
      openAt(index);
    },
    [setSelected, openAt],
  );
  const detail = useCallback(
    (r: AgentRun, rowNow: number) => <RunDetailPanel key={r.id} run={r} now={rowNow} onClose={closePanel} />,
    [closePanel],
  );

  // `#/agents?run=<id>` (Enter on a "needs you" inbox item) opens that run once the list is here.
  useEffect(() => {
    if (!data) return;
    const wanted = runFromHash(location.hash);
    if (!wanted) return;
    history.replaceState(null, '', `${location.pathname}${location.search}#/agents`);
    const index = data.runs.findIndex((r) => r.id === wanted);
    if (index >= 0) {
      setSelected(index);
      setOpenId(wanted);
    }
  }, [data, setSelected]);

  return (
    <section data-testid="view-agents" className="view">
      <ViewHeader title="Agents">
        {data ? `${runs.length} runs` : null}
        {waiting > 0 ? (
          <>
            {' '}
            <Badge tone="needs" title="Sessions that asked their user something and wait">
              {waiting} need{waiting === 1 ? 's' : ''} you
            </Badge>
          </>
        ) : null}
      </ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {agents.length > 0 ? (
        <div className="cards">
          {agents.map((a) => (
            <div className="card" key={a.agent}>
              <div className="card-title">
                <AgentBadge agent={a.agent} />
                {a.running > 0 ? (
                  <Badge tone="blue">
                    <LiveDot /> {a.running} running
                  </Badge>
                ) : null}
              </div>
              <div className="card-stats">
                <div><span className="stat">{int(a.runs)}</span><span className="muted">runs</span></div>
                <div><span className="stat">{tokens(totalTokens(a.tokens))}</span><span className="muted">tokens</span></div>
                <div><span className="stat">{money(a.cost_usd)}</span><span className="muted">cost</span></div>
              </div>
            </div>
          ))}
        </div>
      ) : null}
      {data && runs.length === 0 ? (
        <Empty>
          No agent runs yet. Flightdeck reads Claude Code session logs under <code>~/.claude/projects</code> and Codex
          CLI session logs under <code>~/.codex/sessions</code>; runs appear here once an agent has worked in a watched
          repository. Run <code>flightdeck demo</code> to see sample data.
        </Empty>
      ) : null}
      {runs.length > 0 ? (
        <DataTable
          label="Agent runs"
          items={runs}
          columns={columns}
          rowKey={(r) => r.id}
          selected={selected}
          expanded={expanded}
          now={now}
          onSelect={onClick}
          onOpen={onClick}
          detail={detail}
          rowClass={rowClass}
        />
      ) : null}
      {data && data.runs_not_listed > 0 ? (
        <p className="muted small" data-testid="runs-not-listed">
          {int(data.runs_not_listed)} older finished runs are not listed; the totals above count them.
        </p>
      ) : null}
      {runs.length > 0 ? <p className="hint">Enter or click opens a run's details; Escape closes them.</p> : null}
    </section>
  );
}
