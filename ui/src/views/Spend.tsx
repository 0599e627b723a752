import { api, chartUrl } from '../api';
import { DataTable, Empty, ErrorBox, Loading, ShareBar, ViewHeader, type Column } from '../components';
import { money, percent } from '../format';
import type { SpendSlice } from '../generated/SpendSlice';
import { useApi, useList, type ViewProps } from '../hooks';

const columns: Column<SpendSlice>[] = [
  { header: 'Name', cell: (s) => <code>{s.key}</code>, className: 'nowrap' },
  { header: 'Share', cell: (s) => <ShareBar share={s.share} />, className: 'grow' },
  { header: '%', cell: (s) => percent(s.share, 1), className: 'num' },
  { header: 'Cost', cell: (s) => money(s.cost_usd), className: 'num strong' },
];

const noop = () => {};

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
          <h2>By day</h2>
          <figure className="chart">
            <img src={chartUrl('spend-by-day.svg', version)} alt="Spend by day" data-testid="chart-spend" />
          </figure>
        </>
      ) : null}
    </section>
  );
}
