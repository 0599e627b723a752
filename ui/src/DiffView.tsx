// The diff of one change request (Changes view, in the row's detail): files with status and
// line counts, each opening to its hunks with line numbers and syntax highlighting. Loaded a
// page of files at a time from `GET /api/changes/{id}/diff`.

import { useCallback, useEffect, useState } from 'react';
import { api } from './api';
import { Badge } from './components';
import { absoluteTime, int, shortHash } from './format';
import type { FileDiff } from './generated/FileDiff';
import { highlight, languageOf } from './highlight';
import { useApi } from './hooks';

const STATUS_TONE: Record<string, string> = { added: 'green', deleted: 'red', renamed: 'blue', modified: 'grey', typechange: 'amber' };

function File({ f, open, toggle }: { f: FileDiff; open: boolean; toggle: () => void }) {
  const lang = languageOf(f.path);
  return (
    <li className="diff-file" data-testid="diff-file">
      <button type="button" className="diff-file-head" aria-expanded={open} onClick={toggle}>
        <span className="muted">{open ? '▾' : '▸'}</span> <Badge tone={STATUS_TONE[f.status]}>{f.status}</Badge>{' '}
        <code>{f.old_path ? `${f.old_path} → ${f.path}` : f.path}</code>{' '}
        {f.binary ? (
          <span className="muted">binary</span>
        ) : (
          <span className="nowrap">
            <span className="add">+{int(f.additions)}</span> <span className="del">−{int(f.deletions)}</span>
          </span>
        )}
      </button>
      {open && !f.binary ? (
        <table className="diff" data-testid="diff-hunks">
          <tbody>
            {f.hunks.map((h) => [
              <tr key={h.header} className="hunk">
                <td colSpan={3}>{h.header}</td>
              </tr>,
              ...h.lines.map((l, i) => (
                <tr key={`${h.header}:${i}`} className={l.kind === '+' ? 'ins' : l.kind === '-' ? 'delln' : undefined}>
                  <td className="ln">{l.old ?? ''}</td>
                  <td className="ln">{l.new ?? ''}</td>
                  <td className="code">
                    <span className="mark">{l.kind}</span>
                    {highlight(l.text, lang).map((t, k) =>
                      t.kind === 'plain' ? t.text : (
                        <span key={k} className={`tok-${t.kind}`}>
                          {t.text}
                        </span>
                      ),
                    )}
                  </td>
                </tr>
              )),
            ])}
          </tbody>
        </table>
      ) : null}
      {open && f.binary ? <p className="muted small">Binary file: not shown.</p> : null}
      {open && f.lines_omitted > 0 ? <p className="muted small">{int(f.lines_omitted)} more lines not shown.</p> : null}
    </li>
  );
}

/** `onHead` hears which head the shown files are of, so a decision names what was read. */
export function DiffView({ changeId, onHead }: { changeId: string; onHead?: (head: string) => void }) {
  const [page, setPage] = useState(1);
  const [openFiles, setOpenFiles] = useState<Set<string>>(new Set());
  const fetcher = useCallback((s: AbortSignal) => api.diff(changeId, page, s), [changeId, page]);
  const { data, error } = useApi(fetcher, 'changes');
  const head = data?.head_sha;
  useEffect(() => {
    if (head) onHead?.(head);
  }, [head, onHead]);
  if (error && !data) return <p className="detail-error small">Could not load the diff: {error}</p>;
  if (!data) return <p className="muted small">Loading the diff…</p>;
  const toggle = (path: string) =>
    setOpenFiles((s) => {
      const next = new Set(s);
      if (next.has(path)) next.delete(path);
      else next.add(path);
      return next;
    });
  return (
    <div className="diff-view" data-testid="diff-view">
      <h4>
        Files · {int(data.files_total)}{' '}
        {data.pages > 1 ? (
          <span className="pager">
            <button type="button" disabled={data.page <= 1} onClick={() => setPage(data.page - 1)}>
              ‹
            </button>{' '}
            page {data.page} of {data.pages}{' '}
            <button type="button" disabled={data.page >= data.pages} onClick={() => setPage(data.page + 1)}>
              ›
            </button>
          </span>
        ) : null}
      </h4>
      {data.note ? (
        <p className="notice small" data-testid="diff-note">
          Shown as fetched {absoluteTime(data.fetched_at)}, of head <code>{shortHash(data.head_sha, 12)}</code>: {data.note}.
        </p>
      ) : data.fetched_at ? (
        <p className="muted small" data-testid="diff-fetched">
          From GitHub, fetched {absoluteTime(data.fetched_at)}.
        </p>
      ) : null}
      <ul className="plain">
        {data.files.map((f) => (
          <File key={f.path} f={f} open={openFiles.has(f.path)} toggle={() => toggle(f.path)} />
        ))}
      </ul>
    </div>
  );
}
