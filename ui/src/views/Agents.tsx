import { api } from '../api';
import { AgentBadge, Badge, DataTable, Empty, ErrorBox, Loading, StateBadge, Time, ViewHeader, type Column } from '../components';
import { duration, int, money, repoBasename, tokens } from '../format';
import type { AgentRun } from '../generated/AgentRun';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';

const columns: Column<AgentRun>[] = [
  { header: 'Agent', cell: (r) => <AgentBadge agent={r.agent} />, className: 'nowrap' },
  { header: 'Model', cell: (r) => <code className="muted">{r.model}</code>, className: 'nowrap' },
  { header: 'Title', cell: (r) => <span className="strong clamp" title={r.title}>{r.title || <span className="muted">(no prompt)</span>}</span>, className: 'grow' },
  { header: 'Repo', cell: (r) => <span title={r.repo ?? r.cwd}>{r.repo ? repoBasename(r.repo) : <span className="muted">{repoBasename(r.cwd)}</span>}</span>, className: 'nowrap' },
  { header: 'Branch', cell: (r) => (r.branch ? <code>{r.branch}</code> : <span className="muted">—</span>), className: 'nowrap' },
  {
    header: 'State',
    cell: (r) => (
      <span className="nowrap">
        <StateBadge state={r.state} />
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
  {
    header: 'Duration',
    cell: (r, now) => duration((r.state === 'running' ? Math.max(now, r.ended_at) : r.ended_at) - r.started_at),
    className: 'num',
  },
  {
    header: 'Tokens',
    cell: (r) => (
      <span title={`input ${int(r.tokens.input)} · output ${int(r.tokens.output)} · cache write ${int(r.tokens.cache_write)} · cache read ${int(r.tokens.cache_read)}`}>
        {tokens(r.tokens.input + r.tokens.output + r.tokens.cache_write + r.tokens.cache_read)}
      </span>
    ),
    className: 'num',
  },
  { header: 'Cost', cell: (r) => money(r.cost_usd), className: 'num' },
];

function detail(r: AgentRun) {
  return (
    <dl className="kv detail-body">
      <dt>id</dt>
      <dd><code>{r.id}</code></dd>
      <dt>cwd</dt>
      <dd><code>{r.cwd}</code></dd>
      <dt>log</dt>
      <dd><code>{r.source_path}</code></dd>
      <dt>turns</dt>
      <dd>{int(r.turns)} turns · {int(r.tool_calls)} tool calls</dd>
      <dt>tokens</dt>
      <dd>
        in {tokens(r.tokens.input)} · out {tokens(r.tokens.output)} · cache write {tokens(r.tokens.cache_write)} · cache read{' '}
        {tokens(r.tokens.cache_read)} · reasoning {tokens(r.tokens.reasoning)}
      </dd>
    </dl>
  );
}

export default function Agents({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.agents, 'agents');
  const runs = data?.runs ?? [];
  const agents = data?.agents ?? [];
  const [expanded, toggle] = useExpanded();
  useList(list, runs.length, toggle);
  return (
    <section data-testid="view-agents" className="view">
      <ViewHeader title="Agents">{data ? `${runs.length} runs` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {agents.length > 0 ? (
        <div className="cards">
          {agents.map((a) => (
            <div className="card" key={a.agent}>
              <div className="card-title">
                <AgentBadge agent={a.agent} />
                {a.running > 0 ? <Badge tone="blue">{a.running} running</Badge> : null}
              </div>
              <div className="card-stats">
                <div><span className="stat">{int(a.runs)}</span><span className="muted">runs</span></div>
                <div><span className="stat">{tokens(a.tokens.input + a.tokens.output + a.tokens.cache_write + a.tokens.cache_read)}</span><span className="muted">tokens</span></div>
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
          onSelect={setSelected}
          onOpen={toggle}
          detail={detail}
        />
      ) : null}
    </section>
  );
}
