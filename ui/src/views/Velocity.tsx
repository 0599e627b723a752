import { api, chartUrl, weeklyReportUrl } from '../api';
import { DataTable, Empty, ErrorBox, Loading, ShareBar, ViewHeader, type Column } from '../components';
import { int, percent } from '../format';
import type { Spread } from '../generated/Spread';
import type { WeekVelocity } from '../generated/WeekVelocity';
import { useApi, useList, type ViewProps } from '../hooks';

function share(a: number, b: number): number {
  return a + b > 0 ? a / (a + b) : 0;
}

const columns: Column<WeekVelocity>[] = [
  { header: 'Week of', cell: (w) => <code>{w.week}</code>, className: 'nowrap' },
  { header: 'Agent commits', cell: (w) => int(w.agent_commits), className: 'num' },
  { header: 'Human commits', cell: (w) => int(w.human_commits), className: 'num' },
  {
    header: 'Agent share',
    cell: (w) => (
      <span className="nowrap">
        <ShareBar share={share(w.agent_commits, w.human_commits)} tone="agent" /> {percent(share(w.agent_commits, w.human_commits))}
      </span>
    ),
    className: 'grow',
  },
  { header: 'Agent lines', cell: (w) => int(w.agent_lines), className: 'num' },
  { header: 'Human lines', cell: (w) => int(w.human_lines), className: 'num' },
];

const noop = () => {};

function hours(s: Spread): string {
  return s.median_secs === null ? '—' : `${(s.median_secs / 3600).toFixed(1)} h`;
}

/** Per person and per `[team]` team over the last 30 days: changes merged (authored, or whose
 * agent runs they launched), and the agent runs and spend they launched. */
function TeamTable() {
  const { data } = useApi(api.team, 'velocity');
  if (!data || data.people.length === 0) return null;
  const rows = [
    ...data.teams.map((t) => ({ key: `team:${t.team}`, name: `${t.team} (team)`, f: t, team: true })),
    ...data.people.map((p) => ({ key: `person:${p.member ?? p.person}`, name: p.person, f: p, team: false })),
  ];
  return (
    <div data-testid="team-figures">
      <h2>By team and person, last 30 days</h2>
      <table className="grid">
        <thead>
          <tr>
            <th>Who</th>
            <th className="num">Merged</th>
            <th className="num">By their agents</th>
            <th className="num">Agent runs</th>
            <th className="num">Agent spend</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <td className={r.team ? 'strong' : undefined}>{r.name}</td>
              <td className="num">{int(r.f.merged_changes)}</td>
              <td className="num">{int(r.f.merged_agent_changes)}</td>
              <td className="num">{int(r.f.agent_runs)}</td>
              <td className="num">${r.f.agent_cost_usd.toFixed(2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The DORA four keys over the last 28 days (definitions: README, `flightdeck report dora --help`). */
function DoraCards() {
  const { data } = useApi(api.dora, 'velocity');
  if (!data) return null;
  const rate = data.change_failure_rate;
  return (
    <div className="cards" data-testid="dora">
      <div className="card">
        <div className="card-title">Deployment frequency</div>
        <div className="card-stats">
          <div><span className="stat">{data.deploys_per_week.toFixed(1)}</span><span className="muted">per week</span></div>
          <div><span className="stat">{int(data.deploy_days)}</span><span className="muted">deploy days</span></div>
        </div>
      </div>
      <div className="card">
        <div className="card-title">Lead time for changes</div>
        <div className="card-stats">
          <div><span className="stat">{hours(data.lead_time)}</span><span className="muted">median</span></div>
          <div><span className="stat">{hours(data.lead_time_agent)}</span><span className="muted">agents</span></div>
          <div><span className="stat">{hours(data.lead_time_human)}</span><span className="muted">people</span></div>
        </div>
      </div>
      <div className="card">
        <div className="card-title">Change failure rate</div>
        <div className="card-stats">
          <div><span className="stat">{rate === null ? '—' : percent(rate)}</span><span className="muted">{int(data.failed_deploys)} failed</span></div>
          <div><span className="stat" data-testid="incident-issues">{int(data.incident_issues)}</span><span className="muted">incidents reported</span></div>
        </div>
      </div>
      <div className="card">
        <div className="card-title">Time to restore</div>
        <div className="card-stats">
          <div><span className="stat">{hours(data.time_to_restore)}</span><span className="muted">median of {int(data.time_to_restore.count)}</span></div>
        </div>
      </div>
    </div>
  );
}

/** The lead-time distribution chart, beside the DORA cards. */
function LeadTimeChart({ version }: { version: number }) {
  return (
    <figure className="chart">
      <img src={chartUrl('lead-time-distribution.svg', version)} alt="Lead time distribution, agents vs people" data-testid="chart-lead-time" />
    </figure>
  );
}

function spreadText(s: Spread): string {
  if (s.median_secs === null || s.p90_secs === null) return '—';
  return `${(s.median_secs / 3600).toFixed(1)} h / ${(s.p90_secs / 3600).toFixed(1)} h`;
}

/** Cycle time of the changes merged in the last 28 days, by phase, agents vs people. */
function CycleTable({ version }: { version: number }) {
  const { data } = useApi(api.cycle, 'velocity');
  if (!data) return null;
  return (
    <div data-testid="cycle">
      <h2>Cycle time, last 28 days <span className="muted small">median / p90 (changes)</span></h2>
      <table className="grid">
        <thead>
          <tr>
            <th>Phase</th>
            <th className="num">All</th>
            <th className="num">Agents</th>
            <th className="num">People</th>
          </tr>
        </thead>
        <tbody>
          {data.phases.map((p) => (
            <tr key={p.name}>
              <td>{p.name}</td>
              <td className="num">{spreadText(p.all)} <span className="muted">({int(p.all.count)})</span></td>
              <td className="num">{spreadText(p.agent)}</td>
              <td className="num">{spreadText(p.human)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <figure className="chart">
        <img src={chartUrl('cycle-phases.svg', version)} alt="Cycle time by phase" data-testid="chart-cycle" />
      </figure>
      <figure className="chart">
        <img src={chartUrl('merged-by-week.svg', version)} alt="Changes merged per week" data-testid="chart-merged" />
      </figure>
      <p>
        <a href={weeklyReportUrl()} target="_blank" rel="noreferrer" data-testid="weekly-report">
          Weekly report (HTML, opens without the app)
        </a>
      </p>
    </div>
  );
}

function rate(n: number, r: number | null): string {
  return r === null ? int(n) : `${int(n)} (${percent(r)})`;
}

/** Agents vs people over the last 28 days: acceptance, rework, reverts, cost; review load. */
function SplitTable() {
  const { data } = useApi(api.velocityReport, 'velocity');
  if (!data) return null;
  return (
    <div data-testid="split">
      <h2>Agents vs people, last 28 days <span className="muted small">changes opened</span></h2>
      <table className="grid">
        <thead>
          <tr>
            <th>Who</th>
            <th className="num">Opened</th>
            <th className="num">Merged</th>
            <th className="num">Closed</th>
            <th className="num">Acceptance</th>
            <th className="num">Changes requested</th>
            <th className="num">Reverted</th>
            <th className="num">Cost / merged</th>
          </tr>
        </thead>
        <tbody>
          {data.split.map((s) => (
            <tr key={s.kind}>
              <td>{s.kind === 'agent' ? 'Agents' : 'People'}</td>
              <td className="num">{int(s.opened)}</td>
              <td className="num">{int(s.merged)}</td>
              <td className="num">{int(s.closed)}</td>
              <td className="num">{s.acceptance_rate === null ? '—' : percent(s.acceptance_rate)}</td>
              <td className="num">{rate(s.reworked, s.rework_rate)}</td>
              <td className="num">{rate(s.reverted, s.revert_rate)}</td>
              <td className="num">{s.cost_per_merged_usd === null ? '—' : `$${s.cost_per_merged_usd.toFixed(2)}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.reviewers.length > 0 ? (
        <table className="grid" data-testid="review-load">
          <thead>
            <tr>
              <th>Reviewer</th>
              <th className="num">Reviews</th>
              <th className="num">Approvals</th>
              <th className="num">Changes requested</th>
              <th className="num">Waiting on them</th>
            </tr>
          </thead>
          <tbody>
            {data.reviewers.slice(0, 10).map((r) => (
              <tr key={r.reviewer}>
                <td>{r.reviewer}</td>
                <td className="num">{int(r.reviews)}</td>
                <td className="num">{int(r.approvals)}</td>
                <td className="num">{int(r.changes_requested)}</td>
                <td className="num">{int(r.waiting)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

export default function Velocity({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now, version } = useApi(api.velocity, 'velocity');
  const weeks = data?.weeks ?? [];
  useList(list, weeks.length, noop);
  return (
    <section data-testid="view-velocity" className="view">
      <ViewHeader title="Velocity">{data ? `${weeks.length} weeks` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      <DoraCards />
      <LeadTimeChart version={version} />
      <SplitTable />
      <CycleTable version={version} />
      {loading && !data ? <Loading /> : null}
      {data && weeks.length === 0 ? (
        <Empty>
          No commits yet. Weekly agent and human commit counts appear here once Flightdeck scans a repository (
          <code>flightdeck serve --repo PATH</code>), or run <code>flightdeck demo</code>.
        </Empty>
      ) : null}
      {weeks.length > 0 ? (
        <>
          <div className="big-number">
            <span className="stat-lg">{percent(data!.agent_share)}</span>
            <span className="muted">of commits by agents</span>
            <ShareBar share={data!.agent_share} tone="agent" />
          </div>
          <figure className="chart">
            <img src={chartUrl('commits-by-week.svg', version)} alt="Commits by week" data-testid="chart-velocity" />
          </figure>
          <DataTable
            label="Weeks"
            items={weeks}
            columns={columns}
            rowKey={(w) => w.week}
            selected={selected}
            now={now}
            onSelect={setSelected}
            onOpen={noop}
          />
        </>
      ) : null}
      {data && data.work_done.length > 0 ? (
        <div data-testid="work-throughput">
          <h2>Work items done: agents vs people</h2>
          <table className="grid">
            <thead>
              <tr>
                <th>Week of</th>
                <th className="num">By agents</th>
                <th className="num">By people</th>
                <th>Agent share</th>
              </tr>
            </thead>
            <tbody>
              {data.work_done.map((w) => (
                <tr key={w.week}>
                  <td><code>{w.week}</code></td>
                  <td className="num">{int(w.by_agents)}</td>
                  <td className="num">{int(w.by_people)}</td>
                  <td>
                    <ShareBar share={share(w.by_agents, w.by_people)} tone="agent" /> {percent(share(w.by_agents, w.by_people))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <TeamTable />
    </section>
  );
}
