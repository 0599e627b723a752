import { useState } from 'react';
import { api, cumulativeUrl, forestUrl } from '../api';
import { Badge, DataTable, Empty, ErrorBox, Loading, Time, ViewHeader, type Column } from '../components';
import { int, percent } from '../format';
import type { Comparison } from '../generated/Comparison';
import type { ExperimentCall } from '../generated/ExperimentCall';
import type { Scorecard } from '../generated/Scorecard';
import type { Outcome } from '../generated/Outcome';
import { useApi, useList, type ViewProps } from '../hooks';

/** A lift as a signed percentage. */
function lift(x: number): string {
  return `${x >= 0 ? '+' : '−'}${percent(Math.abs(x), 1)}`;
}

function interval(ci: [number, number] | undefined): string {
  return ci ? `[${lift(ci[0])}, ${lift(ci[1])}]` : '—';
}

const verdictTone: Record<Outcome, string> = {
  win: 'green',
  loss: 'red',
  guardrail_breached: 'red',
  flat: 'grey',
  no_answer: 'amber',
};

function VerdictBadge({ v }: { v: Outcome }) {
  return <Badge tone={verdictTone[v]}>{v.replace(/_/g, ' ')}</Badge>;
}

const columns: Column<Scorecard>[] = [
  {
    header: 'Experiment',
    cell: (c) => (
      <span className="strong" title={c.experiment.id}>
        {c.experiment.name}
      </span>
    ),
    className: 'grow',
  },
  { header: 'Primary metric', cell: (c) => <code>{c.experiment.metric}</code>, className: 'nowrap' },
  { header: 'Days', cell: (c) => c.days_running.toFixed(0), className: 'num' },
  { header: 'Units', cell: (c) => int(c.units), className: 'num' },
  {
    header: 'Split',
    cell: (c) =>
      c.srm ? (
        <span data-testid="srm-flag" title={`Sample ratio mismatch: p = ${c.srm_p_value.toPrecision(2)}`}>
          <Badge tone="red">mismatch</Badge>
        </span>
      ) : (
        <span className="muted small">ok</span>
      ),
  },
  {
    header: 'Decision',
    cell: (c) =>
      c.ready ? (
        <span data-testid="ready" title={c.ready}>
          <Badge tone="green">ready</Badge>
        </span>
      ) : (
        <span className="muted small">wait</span>
      ),
    className: 'nowrap',
  },
  { header: 'Started', cell: (c, now) => <Time ts={c.experiment.started_at} now={now} />, className: 'nowrap right' },
];

function row(metric: string, v: Comparison) {
  return (
    <tr key={`${metric}/${v.variation}`}>
      <td className="nowrap">
        <code>{v.variation}</code>
      </td>
      <td className="num">{int(v.units)}</td>
      <td className="num strong">{v.lift ? lift(v.lift.estimate) : '—'}</td>
      <td className="num nowrap" title="If looked at once, at a fixed sample size">
        {interval(v.lift?.ci)}
      </td>
      <td className="num nowrap" title="Valid however often it is looked at">
        {interval(v.sequential?.ci)}
      </td>
      <td className="num">{v.chance_to_win === null ? '—' : percent(v.chance_to_win, 0)}</td>
      <td>{v.error ? <span className="muted small">{v.error}</span> : <VerdictBadge v={v.verdict} />}</td>
    </tr>
  );
}

/** The decision taken, or the buttons to take it (signed in the audit log; taken once). */
function Decision({ card }: { card: Scorecard }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const d = card.decision;
  if (d) {
    return (
      <p className="small" data-testid="experiment-decision">
        Decided: <strong>{d.call}</strong>
        {d.variation ? ` ${d.variation}` : ''} by {d.by}
        {d.reason ? ` (${d.reason})` : ''}.
      </p>
    );
  }
  const decide = async (call: ExperimentCall) => {
    // A broken split needs a reason to be decided on at all.
    const reason = card.srm ? window.prompt('The split is off: why decide anyway?') ?? '' : '';
    if (card.srm && !reason.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await api.decideExperiment(card.experiment.id, call, undefined, reason);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions-bar small" data-testid="experiment-actions">
      <button type="button" className="primary" disabled={busy} onClick={() => void decide('ship')}>
        Ship winner
      </button>
      <button type="button" disabled={busy} onClick={() => void decide('iterate')}>
        Iterate
      </button>
      <button type="button" className="danger" disabled={busy} onClick={() => void decide('stop')}>
        Stop
      </button>
      {error ? <span className="detail-error">{error}</span> : null}
    </div>
  );
}

/** Dollars, with cents (or finer when under a dime). */
function usd(x: number): string {
  return x < 0.1 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
}

/** The changes, agent runs, cost and deploys behind an experiment (its keys found in diffs). */
function Work({ id }: { id: string }) {
  const { data, error } = useApi((s) => api.experimentWork(id, s), 'experiments');
  if (error) return <p className="small detail-error">{error}</p>;
  if (!data) return <Loading />;
  if (data.changes.length === 0) {
    return (
      <p className="small muted" data-testid="experiment-work">
        No change request puts {data.keys.length ? data.keys.map((k) => `“${k}”`).join(' or ') : 'its keys'} in code yet.
      </p>
    );
  }
  return (
    <div data-testid="experiment-work" className="small">
      <p>
        <strong>Behind it:</strong> {data.changes.length} change{data.changes.length === 1 ? '' : 's'}, {data.runs} agent
        run{data.runs === 1 ? '' : 's'}, {usd(data.cost_usd)}
        {data.cost_per_lift_point !== null ? ` (${usd(data.cost_per_lift_point)} per point of lift)` : ''}.
      </p>
      {data.exposure_warning ? (
        <p data-testid="exposure-warning">
          <Badge tone="amber">exposure</Badge> {data.exposure_warning}.
        </p>
      ) : null}
      <table className="inner">
        <thead>
          <tr>
            <th className="grow">Change</th>
            <th>Key</th>
            <th className="num">Runs</th>
            <th className="num">Cost</th>
            <th>Shipped</th>
          </tr>
        </thead>
        <tbody>
          {data.changes.map((c) => (
            <tr key={c.id}>
              <td title={c.id}>
                {c.title} <span className="muted">{c.state}</span>
                {c.agent ? <span className="muted"> · {c.agent}</span> : null}
              </td>
              <td className="nowrap">
                <code>{c.key}</code> <span className="muted">in {c.path}</span>
              </td>
              <td className="num">{c.runs}</td>
              <td className="num">{usd(c.cost_usd)}</td>
              <td className="nowrap">
                {c.deploys.length ? (
                  `${c.deploys[0].environment} (${c.deploys[0].deployment})`
                ) : (
                  <span className="muted">not shipped</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Cumulative lift over time of one metric (the primary one first), drawn by the server. */
function Cumulative({ card, version }: { card: Scorecard; version: number }) {
  const [metric, setMetric] = useState(card.experiment.metric);
  const names = card.metrics.map((m) => m.metric.name);
  return (
    <div className="chart" data-testid="cumulative">
      {names.length > 1 ? (
        <label className="small">
          Cumulative lift of{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value)} data-testid="cumulative-metric">
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <img
        src={cumulativeUrl(card.experiment.id, metric, version)}
        alt={`Cumulative lift of ${metric} in ${card.experiment.name}, day by day`}
        data-testid="cumulative-plot"
      />
    </div>
  );
}

/** The scorecard: every metric × variation against control. */
function scorecard(c: Scorecard, version: number) {
  if (c.metrics.length === 0) return <span className="muted small">No metric results recorded.</span>;
  return (
    <div data-testid="scorecard">
      {c.srm ? (
        <p className="small">
          <strong>Sample ratio mismatch</strong> (p = {c.srm_p_value.toPrecision(2)}): traffic is not reaching the
          variations as configured, so these numbers are not to be trusted.
        </p>
      ) : null}
      {c.ready ? <p className="small">Ready to decide: {c.ready}.</p> : null}
      <Decision card={c} />
      <div className="chart">
        <img
          src={forestUrl(c.experiment.id, version)}
          alt={`Lift and intervals of ${c.experiment.name}`}
          data-testid="forest-plot"
        />
      </div>
      <Cumulative key={c.experiment.id} card={c} version={version} />
      <Work id={c.experiment.id} />
      {c.metrics.map((m) => (
        <table className="inner" key={m.metric.name}>
          <thead>
            <tr>
              <th className="grow">
                <code>{m.metric.name}</code> <span className="muted small">{m.metric.kind}</span>
                {m.metric.guardrail ? <Badge tone="amber">guardrail</Badge> : null}
                {m.metric.inverse ? <span className="muted small"> lower is better</span> : null}
                <span className="muted small">
                  {' '}
                  · control {m.metric.kind === 'binomial' ? percent(m.control_mean, 1) : m.control_mean.toFixed(2)} over{' '}
                  {int(m.control_units)}
                  {m.mde !== null ? (
                    <span title="The smallest lift this sample detects with 80 % power (α = 0.05)">
                      {' '}
                      · detects ±{percent(m.mde, 1)}
                    </span>
                  ) : null}
                </span>
              </th>
              <th className="num">Units</th>
              <th className="num">Lift</th>
              <th className="num">One-look 95 %</th>
              <th className="num">Always-valid 95 %</th>
              <th className="num">Chance to win</th>
              <th>Verdict</th>
            </tr>
          </thead>
          <tbody>{m.variations.map((v) => row(m.metric.name, v))}</tbody>
        </table>
      ))}
    </div>
  );
}

const noop = () => {};

export default function Experiments({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now, version } = useApi(api.experiments, 'experiments');
  const cards = data?.scorecards ?? [];
  useList(list, cards.length, noop);
  return (
    <section data-testid="view-experiments" className="view">
      <ViewHeader title="Experiments">{data ? `${cards.length} experiments` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && cards.length === 0 ? (
        <Empty>
          No experiments yet. Load results with <code>flightdeck experiment import FILE --experiment ID</code> (per-unit
          rows or per-variation sums, as CSV). Run <code>flightdeck demo</code> to see sample data.
        </Empty>
      ) : null}
      {cards.length > 0 ? (
        <DataTable
          label="Experiments"
          items={cards}
          columns={columns}
          rowKey={(c) => c.experiment.id}
          selected={selected}
          now={now}
          onSelect={setSelected}
          onOpen={noop}
          sub={(c) => scorecard(c, version)}
        />
      ) : null}
    </section>
  );
}
