import { api } from '../api';
import { Badge, DataTable, Empty, ErrorBox, Loading, Time, ViewHeader, toneFor, type Column } from '../components';
import { repoBasename } from '../format';
import type { InboxItem } from '../generated/InboxItem';
import { useApi, useList, type ViewProps } from '../hooks';
import { inboxHash } from '../keys';

const KIND_LABEL: Record<string, string> = {
  review: 'review',
  review_requested: 'review requested',
  green_waiting: 'green, waiting',
  failing_check: 'failing check',
  release_gate: 'release gate',
  budget: 'budget',
  needs_you: 'needs you',
  failed_deploy: 'failed deploy',
  guardrail: 'guardrail',
  action_failed: 'action failed',
};

const columns: Column<InboxItem>[] = [
  { header: 'Kind', cell: (i) => <Badge tone={toneFor(i.kind)}>{KIND_LABEL[i.kind] ?? i.kind}</Badge>, className: 'nowrap' },
  { header: 'Title', cell: (i) => <span className="strong">{i.title}</span>, className: 'grow' },
  { header: 'Detail', cell: (i) => <span className="muted">{i.detail}</span> },
  { header: 'Repo', cell: (i) => <span title={i.repo}>{repoBasename(i.repo)}</span>, className: 'nowrap' },
  { header: 'When', cell: (i, now) => <Time ts={i.at} now={now} />, className: 'nowrap right' },
];

export function navigateTo(view: string) {
  location.hash = `#/${view}`;
}

const rowClass = (i: InboxItem) => (i.kind === 'needs_you' ? 'needs' : undefined);

export default function Inbox({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.inbox, '*');
  const items = data?.items ?? [];
  const open = (index: number) => {
    const item = items[index];
    if (item) location.hash = inboxHash(item);
  };
  useList(list, items.length, open);
  return (
    <section data-testid="view-inbox" className="view">
      <ViewHeader title="Inbox">{data ? `${items.length} item${items.length === 1 ? '' : 's'} need attention` : null}</ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {data && items.length === 0 ? (
        <Empty>
          Nothing needs you right now. Agent sessions waiting for an answer, changes waiting for review, failing
          checks, release gates and budget alerts appear here once Flightdeck watches a repository (<code>flightdeck serve --repo PATH</code>) or you run{' '}
          <code>flightdeck demo</code>.
        </Empty>
      ) : null}
      {items.length > 0 ? (
        <DataTable
          label="Inbox"
          items={items}
          columns={columns}
          rowKey={(i) => i.id}
          selected={selected}
          now={now}
          onSelect={setSelected}
          onOpen={open}
          rowClass={rowClass}
        />
      ) : null}
      {items.length > 0 ? <p className="hint">Press Enter on an item to open the view that holds it (a waiting session opens its run).</p> : null}
    </section>
  );
}
