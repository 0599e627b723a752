import { api } from '../api';
import { DataTable, Empty, ErrorBox, Loading, StateBadge, Time, ViewHeader, type Column } from '../components';
import { repoBasename, shortHash } from '../format';
import type { Release } from '../generated/Release';
import { useApi, useList, type ViewProps } from '../hooks';

const columns: Column<Release>[] = [
  { header: 'Release', cell: (r) => <span className="strong" title={r.id}>{r.name}</span>, className: 'grow' },
  { header: 'Repo', cell: (r) => <span title={r.repo}>{repoBasename(r.repo)}</span>, className: 'nowrap' },
  { header: 'Environment', cell: (r) => <code>{r.environment}</code>, className: 'nowrap' },
  { header: 'State', cell: (r) => <StateBadge state={r.state} /> },
  { header: 'Created', cell: (r, now) => <Time ts={r.created_at} now={now} />, className: 'nowrap' },
  { header: 'Approved by', cell: (r) => r.approved_by ?? <span className="muted">—</span>, className: 'nowrap' },
];

const noop = () => {};

export default function Releases({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.releases, 'releases');
  const releases = data?.releases ?? [];
  const deployments = data?.deployments ?? [];
  useList(list, releases.length, noop);
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
      {releases.length > 0 ? (
        <>
          <h2>Releases</h2>
          <DataTable
            label="Releases"
            items={releases}
            columns={columns}
            rowKey={(r) => r.id}
            selected={selected}
            now={now}
            onSelect={setSelected}
            onOpen={noop}
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
                <tr key={d.id}>
                  <td className="nowrap"><code>{d.environment}</code></td>
                  <td className="nowrap" title={d.repo}>{repoBasename(d.repo)}</td>
                  <td><code>{shortHash(d.sha)}</code></td>
                  <td><StateBadge state={d.status} /></td>
                  <td className="muted">{d.source}</td>
                  <td className="nowrap right"><Time ts={d.created_at} now={now} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}
