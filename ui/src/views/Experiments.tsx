import { api } from '../api';
import { DataTable, Empty, ErrorBox, Loading, ShareBar, StateBadge, Time, ViewHeader, type Column } from '../components';
import { int, percent } from '../format';
import type { Experiment } from '../generated/Experiment';
import { useApi, useList, type ViewProps } from '../hooks';

function rate(units: number, conversions: number): number {
  return units > 0 ? conversions / units : 0;
}

const columns: Column<Experiment>[] = [
  { header: 'Experiment', cell: (e) => <span className="strong" title={e.id}>{e.name}</span>, className: 'grow' },
  { header: 'Metric', cell: (e) => <code>{e.metric}</code>, className: 'nowrap' },
  { header: 'State', cell: (e) => <StateBadge state={e.state} /> },
  { header: 'Units', cell: (e) => int(e.variants.reduce((n, v) => n + v.units, 0)), className: 'num' },
  { header: 'Started', cell: (e, now) => <Time ts={e.started_at} now={now} />, className: 'nowrap right' },
];

function variants(e: Experiment) {
  if (e.variants.length === 0) return <span className="muted small">No variants recorded.</span>;
  const best = Math.max(...e.variants.map((v) => rate(v.units, v.conversions)));
  return (
    <table className="inner">
      <thead>
        <tr>
          <th>Variant</th>
          <th className="num">Units</th>
          <th className="num">Conversions</th>
          <th className="num">Rate</th>
          <th className="grow"></th>
        </tr>
      </thead>
      <tbody>
        {e.variants.map((v) => {
          const r = rate(v.units, v.conversions);
          return (
            <tr key={v.name}>
              <td className="nowrap">
                <code>{v.name}</code>
              </td>
              <td className="num">{int(v.units)}</td>
              <td className="num">{int(v.conversions)}</td>
              <td className={`num ${r === best && r > 0 && e.variants.length > 1 ? 'strong add' : ''}`}>{percent(r, 1)}</td>
              <td className="grow">
                <ShareBar share={best > 0 ? r / best : 0} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const noop = () => {};

export default function Experiments({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.experiments, 'experiments');
  const experiments = data?.experiments ?? [];
  useList(list, experiments.length, noop);
  return (
    <section data-testid="view-experiments" className="view">
      <ViewHeader title="Experiments">{data ? `${experiments.length} experiments` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && experiments.length === 0 ? (
        <Empty>
          No experiments yet. A/B experiments appear here once an experiment source listed in the config file reports
          units and conversions per variant. Run <code>flightdeck demo</code> to see sample data.
        </Empty>
      ) : null}
      {experiments.length > 0 ? (
        <DataTable
          label="Experiments"
          items={experiments}
          columns={columns}
          rowKey={(e) => e.id}
          selected={selected}
          now={now}
          onSelect={setSelected}
          onOpen={noop}
          sub={variants}
        />
      ) : null}
    </section>
  );
}
