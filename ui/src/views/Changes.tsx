import { api } from '../api';
import { AuthorCell, Badge, DataTable, Empty, ErrorBox, Loading, StateBadge, Time, ViewHeader, type Column } from '../components';
import { int, money, repoBasename, shortHash } from '../format';
import type { ChangeRow } from '../generated/ChangeRow';
import type { Check } from '../generated/Check';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';

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
        ) : null}
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
    cell: (r) => (
      <span className="nowrap">
        <span className="add">+{int(r.change.insertions)}</span> <span className="del">−{int(r.change.deletions)}</span>
      </span>
    ),
    className: 'num',
  },
  { header: 'Files', cell: (r) => int(r.change.files_changed), className: 'num' },
  { header: 'Agent cost', cell: (r) => (r.change.agent_cost_usd > 0 ? money(r.change.agent_cost_usd) : <span className="muted">—</span>), className: 'num' },
  { header: 'Checks', cell: (r) => <Checks checks={r.checks} /> },
  { header: 'Updated', cell: (r, now) => <Time ts={r.change.updated_at} now={now} />, className: 'nowrap right' },
];

function detail(r: ChangeRow) {
  return (
    <div className="detail-body">
      <dl className="kv">
        <dt>id</dt>
        <dd>
          <code>{r.change.id}</code>
        </dd>
        <dt>head</dt>
        <dd>
          <code>{shortHash(r.change.head_sha, 12)}</code> ({r.change.kind})
        </dd>
        <dt>repo</dt>
        <dd>
          <code>{r.change.repo}</code>
        </dd>
        <dt>runs</dt>
        <dd>{r.runs.length ? r.runs.map((id) => <code key={id} className="chip">{id}</code>) : <span className="muted">no linked agent runs</span>}</dd>
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
    </div>
  );
}

export default function Changes({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.changes, 'changes');
  const rows = data?.changes ?? [];
  const [expanded, toggle] = useExpanded();
  useList(list, rows.length, toggle);
  const agentRows = rows.filter((r) => r.change.author.kind === 'agent').length;
  return (
    <section data-testid="view-changes" className="view">
      <ViewHeader title="Changes">{data ? `${rows.length} changes · ${agentRows} by agents` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && rows.length === 0 ? (
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
          columns={columns}
          rowKey={(r) => r.change.id}
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
