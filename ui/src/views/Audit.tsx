import { api } from '../api';
import { Badge, DataTable, Empty, ErrorBox, Loading, Time, ViewHeader, type Column } from '../components';
import { shortHash } from '../format';
import type { AuditEntry } from '../generated/AuditEntry';
import { useApi, useExpanded, useList, type ViewProps } from '../hooks';

/** The columns, with the team's names for the keys it trusts (`flightdeck audit trust add`). */
const columnsFor = (names: Map<string, string>): Column<AuditEntry>[] => [
  { header: '#', cell: (e) => e.seq, className: 'num' },
  { header: 'When', cell: (e, now) => <Time ts={e.at} now={now} />, className: 'nowrap' },
  { header: 'Actor', cell: (e) => e.actor, className: 'nowrap' },
  { header: 'Action', cell: (e) => <code>{e.action}</code>, className: 'nowrap' },
  { header: 'Target', cell: (e) => <code className="clamp" title={e.target}>{e.target}</code> },
  { header: 'Detail', cell: (e) => <span className="muted">{e.detail}</span>, className: 'grow' },
  { header: 'Hash', cell: (e) => <code className="muted" title={e.hash}>{shortHash(e.hash)}</code> },
  {
    header: 'Signer',
    cell: (e) =>
      e.signature ? (
        names.has(e.signer) ? (
          <span title={`Ed25519 ${e.signer}`} data-testid="signer-name">
            {names.get(e.signer)}
          </span>
        ) : (
          <code className="muted" title={`Ed25519 ${e.signer}: a key the team has not named (flightdeck audit trust add)`}>
            {e.signer.slice(0, 16)}
          </code>
        )
      ) : (
        <Badge tone="amber">unsigned</Badge>
      ),
  },
];

function detail(e: AuditEntry) {
  return (
    <dl className="kv detail-body">
      <dt>hash</dt>
      <dd><code>{e.hash}</code></dd>
      <dt>previous</dt>
      <dd><code>{e.prev_hash}</code></dd>
      <dt>signer</dt>
      <dd><code>{e.signer}</code></dd>
      <dt>signature</dt>
      <dd><code className="clamp">{e.signature}</code></dd>
    </dl>
  );
}

export default function Audit({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.audit, 'audit');
  const entries = data?.entries ?? [];
  const names = new Map((data?.integrity.signers ?? []).flatMap((s) => (s.name ? [[s.key, s.name] as const] : [])));
  const [expanded, toggle] = useExpanded();
  useList(list, entries.length, toggle);
  return (
    <section data-testid="view-audit" className="view">
      <ViewHeader title="Audit">
        {data ? `${entries.length} entries · hash-chained, signed by ${data.integrity.signers.length} key${data.integrity.signers.length === 1 ? '' : 's'}` : null}
      </ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {data && entries.length > 0 ? (
        data.integrity.problems.length === 0 ? (
          <p className="muted small" data-testid="audit-integrity" data-ok="true">
            <Badge tone="green">intact</Badge> every entry follows the one before, matches its hash and carries a valid
            signature. Which keys to trust: <code>flightdeck audit verify</code>.
          </p>
        ) : (
          <div role="alert" data-testid="audit-integrity" data-ok="false">
            <Badge tone="red">tampered</Badge>
            <ul>
              {data.integrity.problems.map((p) => (
                <li key={`${p.seq}:${p.what}`}>
                  entry {p.seq} {p.what}
                </li>
              ))}
            </ul>
          </div>
        )
      ) : null}
      {loading && !data ? <Loading /> : null}
      {data && entries.length === 0 ? (
        <Empty>
          The audit log is empty. Entries appear here once someone acts through Flightdeck — approving a release,
          queuing an action from the outbox — each one chained to the previous by its hash and signed with the
          lead's key.
        </Empty>
      ) : null}
      {entries.length > 0 ? (
        <DataTable
          label="Audit log"
          items={entries}
          columns={columnsFor(names)}
          rowKey={(e) => String(e.seq)}
          selected={selected}
          expanded={expanded}
          now={now}
          onSelect={setSelected}
          onOpen={toggle}
          detail={detail}
        />
      ) : null}
    </section>
  );
}
