import { api } from '../api';
import { AgentBadge, DataTable, Empty, ErrorBox, Loading, ShareBar, Time, ViewHeader, type Column } from '../components';
import { int, percent } from '../format';
import type { RepoSummary } from '../generated/RepoSummary';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';

function agentShare(r: RepoSummary): number {
  return r.commits > 0 ? r.agent_commits / r.commits : 0;
}

const columns: Column<RepoSummary>[] = [
  {
    header: 'Repository',
    cell: (r) => (
      <span>
        <span className="strong">{r.repo.name}</span> <code className="muted small">{r.repo.path}</code>
      </span>
    ),
    className: 'grow',
  },
  { header: 'Default', cell: (r) => <code>{r.repo.default_branch}</code>, className: 'nowrap' },
  { header: 'Commits', cell: (r) => int(r.commits), className: 'num' },
  {
    header: 'Agent share',
    cell: (r) => (
      <span className="nowrap" title={`${int(r.agent_commits)} of ${int(r.commits)} commits by agents`}>
        <ShareBar share={agentShare(r)} tone="agent" /> {percent(agentShare(r))}
      </span>
    ),
    className: 'num',
  },
  { header: 'Branches', cell: (r) => int(r.branches.length), className: 'num' },
  { header: 'Last commit', cell: (r, now) => <Time ts={r.last_commit_at} now={now} />, className: 'nowrap right' },
];

function branches(r: RepoSummary) {
  if (r.branches.length === 0) return <span className="muted small">No branches recorded.</span>;
  return (
    <table className="inner">
      <tbody>
        {r.branches.map((b) => (
          <tr key={b.name}>
            <td className="nowrap">
              <code>{b.name}</code>
            </td>
            <td className="nowrap">{b.agent ? <AgentBadge agent={b.agent} /> : <span className="muted">human</span>}</td>
            <td className="num nowrap" title="commits ahead / behind the default branch">
              <span className="add">↑{int(b.ahead)}</span> <span className="del">↓{int(b.behind)}</span>
            </td>
            <td className="grow">{b.worktree_path ? <code className="muted small" title="linked worktree">⎇ {b.worktree_path}</code> : null}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function detail(r: RepoSummary) {
  return (
    <dl className="kv detail-body">
      <dt>path</dt>
      <dd><code>{r.repo.path}</code></dd>
      <dt>remote</dt>
      <dd>{r.repo.remote_url ? <code>{r.repo.remote_url}</code> : <span className="muted">none</span>}</dd>
    </dl>
  );
}

export default function Repos({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.repos, 'repos');
  const repos = data?.repos ?? [];
  const [expanded, toggle] = useExpanded();
  useList(list, repos.length, toggle);
  return (
    <section data-testid="view-repos" className="view">
      <ViewHeader title="Repos">{data ? `${repos.length} watched` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && repos.length === 0 ? (
        <Empty>
          No repositories yet. Add one with <code>flightdeck serve --repo PATH</code> or list it under{' '}
          <code>[sources] repos</code> in the config file, or run <code>flightdeck demo</code>.
        </Empty>
      ) : null}
      {repos.length > 0 ? (
        <DataTable
          label="Repositories"
          items={repos}
          columns={columns}
          rowKey={(r) => r.repo.path}
          selected={selected}
          expanded={expanded}
          now={now}
          onSelect={setSelected}
          onOpen={toggle}
          sub={branches}
          detail={detail}
        />
      ) : null}
    </section>
  );
}
