import { api, chartUrl } from '../api';
import { DataTable, Empty, ErrorBox, Loading, ShareBar, ViewHeader, type Column } from '../components';
import { money, percent } from '../format';
import { useState } from 'react';
import type { BudgetStatus } from '../generated/BudgetStatus';
import type { Concentration } from '../generated/Concentration';
import type { Dependence } from '../generated/Dependence';
import type { ReconRow } from '../generated/ReconRow';
import type { ValueView } from '../generated/ValueView';
import type { SpendSlice } from '../generated/SpendSlice';
import { useApi, useList, type ViewProps } from '../hooks';

const columns: Column<SpendSlice>[] = [
  { header: 'Name', cell: (s) => <code>{s.key}</code>, className: 'nowrap' },
  { header: 'Share', cell: (s) => <ShareBar share={s.share} />, className: 'grow' },
  { header: '%', cell: (s) => percent(s.share, 1), className: 'num' },
  { header: 'Cost', cell: (s) => money(s.cost_usd), className: 'num strong' },
];

const noop = () => {};

/** One budget: spent against it this month, the month-end forecast, the alerts fired. */
function BudgetBar({ b }: { b: BudgetStatus }) {
  const tone = b.used >= 1 ? 'red' : b.used >= 0.8 ? 'amber' : undefined;
  const f = b.forecast;
  return (
    <li data-testid="budget" data-used={b.used.toFixed(3)}>
      <code>{b.budget.id}</code> <ShareBar share={Math.min(1, b.used)} tone={tone} />{' '}
      <span className="strong">
        {money(b.spent_usd)} of {money(b.budget.monthly_usd)}
      </span>{' '}
      <span className="muted small">
        ({percent(b.used, 0)}) · month end ~{money(f.expected_usd)} (80 %: {money(f.low_usd)}–{money(f.high_usd)})
        {b.fired.length ? ` · alerts: ${b.fired.map((t) => `${t} %`).join(', ')}` : ''}
      </span>
    </li>
  );
}

/** Vendor shares of spend and merged agent work, the HHI, and what stops if one is down. */
function ConcentrationPanel({ c, down }: { c: Concentration; down: Dependence[] }) {
  const [vendor, setVendor] = useState<string>(down[0]?.vendor ?? '');
  const d = down.find((x) => x.vendor === vendor);
  const row = (title: string, shares: Concentration['spend_by_vendor'], fmt: (v: number) => string) => (
    <div className="column">
      <h3>{title}</h3>
      <ul className="plain">
        {shares.map((s) => (
          <li key={s.key}>
            <code>{s.key}</code> <ShareBar share={s.share} /> {percent(s.share, 0)} <span className="muted small">{fmt(s.value)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
  return (
    <div className="concentration" data-testid="concentration" data-over={String(c.over)}>
      <h2>Vendor concentration</h2>
      <p className={c.over ? 'notice fail' : 'muted'}>
        Since {c.since}: spend HHI <strong>{Math.round(c.hhi_spend).toLocaleString()}</strong>, merged agent work HHI{' '}
        <strong>{Math.round(c.hhi_merged).toLocaleString()}</strong> (warning above {Math.round(c.threshold).toLocaleString()}; 10,000 is
        one vendor for everything).
      </p>
      <div className="columns">
        {row('Spend', c.spend_by_vendor, money)}
        {row('Merged agent changes', c.merged_by_vendor, (v) => `${v.toFixed(1)} changes`)}
      </div>
      {down.length ? (
        <div data-testid="if-down">
          <label>
            What if{' '}
            <select aria-label="Vendor down" value={vendor} onChange={(e) => setVendor(e.target.value)}>
              {down.map((x) => (
                <option key={x.vendor} value={x.vendor}>
                  {x.vendor}
                </option>
              ))}
            </select>{' '}
            is down?
          </label>
          {d ? (
            <ul className="plain">
              <li>
                Repos that stop: {d.repos_only.length ? d.repos_only.map((r) => <code key={r}>{r} </code>) : <span className="muted">none</span>}
              </li>
              {d.repos_partly.map((p) => (
                <li key={p.key}>
                  <code>{p.key}</code> loses {percent(p.share, 0)} of its agent runs
                </li>
              ))}
              <li>Agents that stop: {d.agents_only.length ? d.agents_only.join(', ') : <span className="muted">none</span>}</li>
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** Billed (vendor cost reports) beside log-derived cost, per vendor over the days shown. */
function Reconciliation({ rows }: { rows: ReconRow[] }) {
  const vendors = [...new Set(rows.map((r) => r.vendor))].sort();
  const sum = (v: string, k: 'logs_usd' | 'billed_usd' | 'gap_usd') =>
    rows.filter((r) => r.vendor === v).reduce((n, r) => n + r[k], 0);
  return (
    <div data-testid="reconciliation">
      <h2>Billed vs agent logs (30 days)</h2>
      <table className="grid" aria-label="Reconciliation">
        <thead>
          <tr>
            <th>Vendor</th>
            <th className="num">From logs</th>
            <th className="num">Billed</th>
            <th className="num">Gap</th>
          </tr>
        </thead>
        <tbody>
          {vendors.map((v) => (
            <tr key={v} data-testid="recon-row">
              <td>
                <code>{v}</code>
              </td>
              <td className="num">{money(sum(v, 'logs_usd'))}</td>
              <td className="num">{money(sum(v, 'billed_usd'))}</td>
              <td className="num strong">{money(sum(v, 'gap_usd'))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">
        The gap is work billed but not in watched logs (other machines, the console, other tools) or prices that drifted;{' '}
        <code>flightdeck report reconcile</code> shows it per day.
      </p>
    </div>
  );
}

/** What the spend bought over the last 30 days. */
function ValuePanel({ v }: { v: ValueView }) {
  const m = (x: number | null, digits = 2) => (x === null ? '—' : `$${x.toFixed(digits)}`);
  return (
    <div data-testid="value">
      <h2>What it bought (30 days)</h2>
      <dl className="kv">
        <dt>merged agent changes</dt>
        <dd>
          {v.merged_changes} · {m(v.cost_per_merged_change)} each · {m(v.cost_per_merged_line, 4)} per merged line
        </dd>
        <dt>abandoned runs</dt>
        <dd>
          {v.abandoned_runs} · {money(v.abandoned_cost_usd)} <span className="muted small">(ended over a week ago, nothing merged)</span>
        </dd>
        <dt>human review</dt>
        <dd>
          {v.review_hours.toFixed(1)} h to first review · {m(v.cost_per_review_hour)} of agent cost per review hour
        </dd>
      </dl>
    </div>
  );
}

export default function Spend({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now, version } = useApi(api.spend, 'spend');
  const sections: [string, SpendSlice[]][] = data
    ? [
        ['By vendor', data.by_vendor],
        ['By model', data.by_model],
        ['By agent', data.by_agent],
      ]
    : [];
  const count = sections.reduce((n, [, s]) => n + s.length, 0);
  useList(list, count, noop);
  let offset = 0;
  const isEmpty = data !== null && count === 0 && data.total_usd === 0;
  return (
    <section data-testid="view-spend" className="view">
      <ViewHeader title="Spend">{data ? `${data.by_day.length} days` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {isEmpty ? (
        <Empty>
          No spend yet. Costs appear here once agent sessions are read from <code>~/.claude/projects</code> or{' '}
          <code>~/.codex/sessions</code> (priced with the built-in price table) or a billing source is configured. Run{' '}
          <code>flightdeck demo</code> to see sample data.
        </Empty>
      ) : null}
      {data && !isEmpty ? (
        <>
          <div className="big-number">
            <span className="stat-lg">{money(data.total_usd)}</span>
            <span className="muted">total</span>
          </div>
          {data.unpriced_tokens > 0 ? (
            <p className="notice fail" data-testid="unpriced">
              {data.unpriced_tokens.toLocaleString()} tokens of {data.unpriced_models.join(', ')} have no price and are not in
              these costs; add prices under <code>[prices.models]</code> in the config (<code>flightdeck prices check</code>).
            </p>
          ) : null}
          {data.budgets.length ? (
            <>
              <h2>Budgets this month</h2>
              <ul className="plain budgets">
                {data.budgets.map((b) => (
                  <BudgetBar key={b.budget.id} b={b} />
                ))}
              </ul>
            </>
          ) : null}
          <div className="columns">
            {sections.map(([title, slices]) => {
              const start = offset;
              offset += slices.length;
              return (
                <div key={title} className="column">
                  <h2>{title}</h2>
                  {slices.length ? (
                    <DataTable
                      label={`Spend ${title.toLowerCase()}`}
                      items={slices}
                      columns={columns}
                      rowKey={(s) => s.key}
                      selected={selected}
                      offset={start}
                      now={now}
                      onSelect={setSelected}
                      onOpen={noop}
                    />
                  ) : (
                    <p className="muted">none</p>
                  )}
                </div>
              );
            })}
          </div>
          <ValuePanel v={data.value} />
          <ConcentrationPanel c={data.concentration} down={data.if_down} />
          {data.reconciliation.length ? <Reconciliation rows={data.reconciliation} /> : null}
          <h2>By day</h2>
          <figure className="chart">
            <img src={chartUrl('spend-by-day.svg', version)} alt="Spend by day" data-testid="chart-spend" />
          </figure>
          <h2>By week and vendor</h2>
          <figure className="chart">
            <img src={chartUrl('spend-by-vendor.svg', version)} alt="Spend per week by vendor" data-testid="chart-spend-vendor" />
          </figure>
        </>
      ) : null}
    </section>
  );
}
