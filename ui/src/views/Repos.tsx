import { useState } from 'react';
import { api, chartUrl } from '../api';
import { AgentBadge, DataTable, Empty, ErrorBox, Loading, ShareBar, Time, ViewHeader, type Column } from '../components';
import { int, percent, repoAddCommand } from '../format';
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
        <span className="strong">{r.repo.name}</span> <code className="muted small">{r.repo.id}</code>
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
      <dt>identity</dt>
      <dd><code>{r.repo.id}</code></dd>
      <dt>clone here</dt>
      <dd>{r.repo.path ? <code>{r.repo.path}</code> : <span className="muted">none on this machine</span>}</dd>
      <dt>remote</dt>
      <dd>{r.repo.remote_url ? <code>{r.repo.remote_url}</code> : <span className="muted">none</span>}</dd>
    </dl>
  );
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no clipboard (insecure context, permissions): the command stays selectable
  }
}

function SuggestedRepo({ path }: { path: string }) {
  const command = repoAddCommand(path);
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <li>
      <code className="cmd" title={path}>
        {command}
      </code>
      <button
        type="button"
        title="Copy the command"
        onClick={() =>
          copyText(command).then((ok) => {
            setCopied(ok ? 'copied' : 'failed');
            setTimeout(() => setCopied('idle'), 1500);
          })
        }
      >
        {copied === 'copied' ? 'Copied' : copied === 'failed' ? 'Select it' : 'Copy'}
      </button>
    </li>
  );
}

function Suggested({ paths }: { paths: string[] }) {
  if (paths.length === 0) return null;
  return (
    <div data-testid="suggested">
      <h2>Suggested</h2>
      <p className="hint">
        Agents worked in {paths.length === 1 ? 'this work tree' : 'these work trees'}, but Flightdeck does not watch{' '}
        {paths.length === 1 ? 'it' : 'them'}. Add one with <code>flightdeck repo add &lt;path&gt;</code>:
      </p>
      <ul className="suggested">
        {paths.map((p) => (
          <SuggestedRepo key={p} path={p} />
        ))}
      </ul>
    </div>
  );
}

export default function Repos({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now, version } = useApi(api.repos, 'repos');
  const repos = data?.repos ?? [];
  const suggested = data?.suggested ?? [];
  const [expanded, toggle, setExpanded] = useExpanded();
  useList(list, repos.length, toggle, () => {
    if (expanded < 0) return false;
    setExpanded(-1);
    return true;
  });
  return (
    <section data-testid="view-repos" className="view">
      <ViewHeader title="Repos">{data ? `${repos.length} watched` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && repos.length === 0 ? (
        <Empty>
          No repositories yet. Add one with <code>flightdeck repo add PATH</code> or{' '}
          <code>flightdeck serve --repo PATH</code>, list it under{' '}
          <code>[sources] repos</code> in the config file, or run <code>flightdeck demo</code>.
        </Empty>
      ) : null}
      {repos.length > 0 ? (
        <DataTable
          label="Repositories"
          items={repos}
          columns={columns}
          rowKey={(r) => r.repo.id}
          selected={selected}
          expanded={expanded}
          now={now}
          onSelect={setSelected}
          onOpen={toggle}
          sub={branches}
          detail={detail}
        />
      ) : null}
      <Suggested paths={suggested} />
      {repos.length > 0 ? (
        <figure className="chart">
          <img src={chartUrl('agent-share.svg', version)} alt="Agent share of commits per week" data-testid="chart-agent-share" />
        </figure>
      ) : null}
    </section>
  );
}
