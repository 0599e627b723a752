import { Fragment, useCallback, useState } from 'react';
import { decideOrKeep, keptNotice } from '../pending';
import { api } from '../api';
import { AuthorCell, Badge, DataTable, Empty, ErrorBox, Loading, StateBadge, Time, ViewHeader, type Column } from '../components';
import { int, money, repoBasename, shortHash } from '../format';
import type { Commit } from '../generated/Commit';
import type { Deployment } from '../generated/Deployment';
import type { Release } from '../generated/Release';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';

/** The first 30 commits, newest first, each with the agent that wrote it. */
function CommitList({ commits }: { commits: Commit[] }) {
  return (
    <ul className="commits">
      {commits.slice(0, 30).map((c) => (
        <li key={c.sha}>
          <code>{shortHash(c.sha)}</code> {c.agent ? <span className="badge badge-agent">{c.agent}</span> : null} {c.summary}
        </li>
      ))}
    </ul>
  );
}

/** A release's commits and risk signals, and — while pending — the lead's decision. */
function ReleasePanel({ release }: { release: Release }) {
  const fetcher = useCallback((s: AbortSignal) => api.release(release.id, s), [release.id]);
  const { data, error } = useApi(fetcher, 'releases');
  const [reason, setReason] = useState('');
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const decide = (approve: boolean) =>
    decideOrKeep<Release>(api.releaseDecisionPath(release.id), { approve, reason, sha: release.sha ?? undefined }, `${approve ? 'approve' : 'reject'} ${release.name}`).then(
      (got) =>
        'kept' in got
          ? setNotice({ ok: true, text: keptNotice(got.kept) })
          : setNotice({
              ok: true,
              text: `${got.sent.name} ${got.sent.state}: signed in the audit log${got.sent.run_id ? '; GitHub hears it through the outbox' : ''}`,
            }),
      (e: Error) => setNotice({ ok: false, text: e.message }),
    );
  if (error) return <ErrorBox message={error} />;
  if (!data) return <Loading />;
  return (
    <div data-testid="release-detail">
      <p className="muted">
        {data.commits.length} commits over {data.since ? <code>{shortHash(data.since)}</code> : 'nothing deployed'} in{' '}
        <code>{release.environment}</code>
        {release.reason ? <> · “{release.reason}”</> : null}
      </p>
      {data.signals.length > 0 || data.changes.some((c) => c.signals.length > 0) ? (
        <ul data-testid="release-signals">
          {data.signals.map((s) => (
            <li key={s}>{s}</li>
          ))}
          {data.changes.flatMap((c) => c.signals.map((s) => <li key={c.id + s}>{c.title}: {s}</li>))}
        </ul>
      ) : (
        <p className="muted">No risk signals.</p>
      )}
      <CommitList commits={data.commits} />
      {release.state === 'pending' ? (
        <div className="actions-bar">
          <input aria-label="Reason" placeholder="Reason (needed to reject)" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" className="primary" onClick={() => void decide(true)}>
            Approve release
          </button>
          <button type="button" className="danger" disabled={!reason.trim()} onClick={() => void decide(false)}>
            Reject
          </button>
        </div>
      ) : null}
      {notice ? (
        <p className={`notice ${notice.ok ? 'ok' : 'fail'}`} data-testid="release-notice" role="status">
          {notice.text}
        </p>
      ) : null}
    </div>
  );
}

/** What a deploy shipped: its commits over the last success, and each change with who wrote
 * and reviewed it, its checks, agent cost and the policy's verdict. */
function DeployPanel({ deploy }: { deploy: Deployment }) {
  const fetcher = useCallback((s: AbortSignal) => api.deploy(deploy.id, s), [deploy.id]);
  const { data, error } = useApi(fetcher, 'releases');
  if (error) return <ErrorBox message={error} />;
  if (!data) return <Loading />;
  return (
    <div data-testid="deploy-detail">
      <p className="muted">
        {data.commits.length} commits over{' '}
        {data.previous ? <code>{shortHash(data.previous.sha)}</code> : 'nothing before (all history)'}
        {data.commits.length > 0 ? ` · ${data.commits.filter((c) => c.agent).length} by agents` : null}
      </p>
      {data.changes.length > 0 ? (
        <table className="grid" aria-label="Changes shipped">
          <thead>
            <tr>
              <th>Change</th>
              <th>By</th>
              <th>Reviews</th>
              <th>Checks</th>
              <th className="num">Agent cost</th>
              <th>Policy</th>
            </tr>
          </thead>
          <tbody>
            {data.changes.map((c) => {
              const failing = c.checks.filter((k) => k.conclusion === 'failure' || k.conclusion === 'timed_out').length;
              const blocked = c.verdict ? c.verdict.reasons.filter((r) => !r.ok).map((r) => r.message) : [];
              return (
                <tr key={c.change.id} data-testid="deploy-change">
                  <td>{c.change.title}</td>
                  <td className="nowrap"><AuthorCell author={c.change.author} /></td>
                  <td>
                    {c.reviews.length > 0 ? c.reviews.map((r) => `${r.reviewer} ${r.state.replace('_', ' ')}`).join(', ') : <span className="muted">none</span>}
                  </td>
                  <td className="nowrap">
                    {c.checks.length === 0 ? <span className="muted">none</span> : failing > 0 ? <Badge tone="red">{failing} of {c.checks.length} failing</Badge> : <Badge tone="green">{c.checks.length} passed</Badge>}
                  </td>
                  <td className="num">{money(c.change.agent_cost_usd)}</td>
                  <td title={blocked.join('; ') || c.policy_error || undefined}>
                    {c.verdict ? <Badge tone={c.verdict.pass ? 'green' : 'red'}>{c.verdict.pass ? 'pass' : 'blocked'}</Badge> : <span className="muted">not judged</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : (
        <p className="muted">No change requests among these commits.</p>
      )}
      <CommitList commits={data.commits} />
    </div>
  );
}

const columns: Column<Release>[] = [
  { header: 'Release', cell: (r) => <span className="strong" title={r.id}>{r.name}</span>, className: 'grow' },
  { header: 'Repo', cell: (r) => <span title={r.repo}>{repoBasename(r.repo)}</span>, className: 'nowrap' },
  { header: 'Environment', cell: (r) => <code>{r.environment}</code>, className: 'nowrap' },
  { header: 'State', cell: (r) => <StateBadge state={r.state} /> },
  { header: 'Created', cell: (r, now) => <Time ts={r.created_at} now={now} />, className: 'nowrap' },
  { header: 'Approved by', cell: (r) => r.approved_by ?? <span className="muted">—</span>, className: 'nowrap' },
];

export default function Releases({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.releases, 'releases');
  const releases = data?.releases ?? [];
  const deployments = data?.deployments ?? [];
  const [expanded, toggle] = useExpanded();
  useList(list, releases.length, toggle);
  const detail = useCallback((r: Release) => <ReleasePanel key={r.id} release={r} />, []);
  const [openDeploy, setOpenDeploy] = useState<string | null>(null);
  return (
    <section data-testid="view-releases" className="view">
      <ViewHeader title="Releases">{data ? `${releases.length} releases · ${deployments.length} deployments` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && releases.length === 0 && deployments.length === 0 ? (
        <Empty>
          No releases or deployments yet. They appear here once a release source (GitHub deployments and environments,
          or the release list in the config file) reports them for a watched repository. Run <code>flightdeck demo</code>{' '}
          to see sample data.
        </Empty>
      ) : null}
      {data && data.environments.length > 0 ? (
        <>
          <h2>Environments</h2>
          <table className="grid" aria-label="Environments" data-testid="environments">
            <thead>
              <tr>
                <th>Repo</th>
                <th>Environment</th>
                <th>Live</th>
                <th>On its way</th>
                <th>Failed since</th>
                <th className="num">Deploys</th>
              </tr>
            </thead>
            <tbody>
              {data.environments.map((e) => (
                <tr key={`${e.repo}:${e.environment}`}>
                  <td className="nowrap" title={e.repo}>{repoBasename(e.repo)}</td>
                  <td className="nowrap"><code>{e.environment}</code></td>
                  <td className="nowrap">
                    {e.live ? (
                      <>
                        <code>{shortHash(e.live.sha)}</code> <Time ts={e.live.created_at} now={now} />
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>{e.pending.length > 0 ? e.pending.map((p) => <code key={p.id}>{shortHash(p.sha)} </code>) : <span className="muted">—</span>}</td>
                  <td>{e.failed ? <StateBadge state="failure" /> : <span className="muted">—</span>}</td>
                  <td className="num">{e.deploys}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {releases.length > 0 ? (
        <>
          <h2>Releases</h2>
          <DataTable
            label="Releases"
            items={releases}
            columns={columns}
            rowKey={(r) => r.id}
            selected={selected}
            expanded={expanded}
            now={now}
            onSelect={setSelected}
            onOpen={toggle}
            detail={detail}
          />
        </>
      ) : data && deployments.length > 0 ? (
        <p className="muted">No releases awaiting approval.</p>
      ) : null}
      {deployments.length > 0 ? (
        <>
          <h2>Deployments</h2>
          <table className="grid" aria-label="Deployments">
            <thead>
              <tr>
                <th>Environment</th>
                <th>Repo</th>
                <th>Commit</th>
                <th>Status</th>
                <th>Source</th>
                <th className="right">When</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => (
                <Fragment key={d.id}>
                  <tr data-testid="deployment">
                    <td className="nowrap"><code>{d.environment}</code></td>
                    <td className="nowrap" title={d.repo}>{repoBasename(d.repo)}</td>
                    <td>
                      <button
                        type="button"
                        className="link"
                        aria-expanded={openDeploy === d.id}
                        title="What this deploy shipped"
                        onClick={() => setOpenDeploy(openDeploy === d.id ? null : d.id)}
                      >
                        <code>{shortHash(d.sha)}</code>
                      </button>
                    </td>
                    <td><StateBadge state={d.status} /></td>
                    <td className="muted">{d.source}</td>
                    <td className="nowrap right"><Time ts={d.created_at} now={now} /></td>
                  </tr>
                  {openDeploy === d.id ? (
                    <tr>
                      <td colSpan={6}>
                        <DeployPanel deploy={d} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
          {data && data.deployments_not_listed > 0 ? (
            <p className="muted small" data-testid="deploys-not-listed">
              {int(data.deployments_not_listed)} older deployments are not listed; DORA counts them all.
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
