// The detail panel of one agent run (Agents view: Enter or click on a row, Escape closes).
// Shows the row's data at once and fills in files, the cost timeline, commits and the run's
// activity (every prompt, tool call and error, read from its log) from `GET /api/runs/{id}`.

import { useCallback, useState, type ReactNode } from 'react';
import { api } from './api';
import { AgentBadge, Badge, Lines, RunStateBadge, Time } from './components';
import { absoluteTime, duration, int, money, repoBasename, runDuration, shortHash, tokens, totalTokens } from './format';
import type { AgentRun } from './generated/AgentRun';
import type { Commit } from './generated/Commit';
import type { RunDetail } from './generated/RunDetail';
import type { RunEventKind } from './generated/RunEventKind';
import type { UsagePoint } from './generated/UsagePoint';
import { useApi } from './hooks';
import { areaPath, costByModel, cumulative, scale, stepPath, type Point } from './sparkline';

const SPARK = { width: 360, height: 64, pad: 4 };

/** Cumulative cost over the run, as a hand-drawn SVG step line from the run's start. */
export function CostSparkline({ timeline, start, end }: { timeline: UsagePoint[]; start: number; end: number }) {
  const points = cumulative(timeline);
  if (points.length === 0) return <p className="muted small">No billed requests recorded for this run.</p>;
  const total = points[points.length - 1].y;
  const series: Point[] = [{ x: Math.min(start, points[0].x), y: 0 }, ...points];
  const last = points[points.length - 1];
  if (end > last.x) series.push({ x: end, y: total });
  const scaled = scale(series, SPARK);
  const line = stepPath(scaled);
  const baseline = SPARK.height - SPARK.pad;
  const tip = scaled[scaled.length - 1];
  const label = `Cumulative cost: ${money(total)} over ${int(points.length)} billed request${points.length === 1 ? '' : 's'}`;
  return (
    <div data-testid="run-sparkline">
      <svg
        className="spark"
        viewBox={`0 0 ${SPARK.width} ${SPARK.height}`}
        width={SPARK.width}
        height={SPARK.height}
        role="img"
        aria-label={label}
      >
        <title>{label}</title>
        <line className="spark-axis" x1={SPARK.pad} x2={SPARK.width - SPARK.pad} y1={baseline} y2={baseline} />
        <path className="spark-area" d={areaPath(line, scaled, baseline)} />
        <path className="spark-line" d={line} />
        <circle className="spark-end" cx={tip.x} cy={tip.y} r={2.5} />
      </svg>
      <div className="spark-legend muted">
        <span title={absoluteTime(series[0].x)}>{absoluteTime(series[0].x)}</span>
        <span>
          {int(points.length)} req · {money(total)} in {duration(series[series.length - 1].x - series[0].x)}
        </span>
      </div>
    </div>
  );
}

function Commits({ commits, now }: { commits: Commit[]; now: number }) {
  if (commits.length === 0) return <p className="muted small">No commits by this agent while it ran.</p>;
  return (
    <table className="inner">
      <tbody>
        {commits.map((c) => (
          <tr key={`${c.repo}:${c.sha}`}>
            <td className="nowrap">
              <code title={c.sha}>{shortHash(c.sha, 7)}</code>
            </td>
            <td className="grow">{c.summary}</td>
            <td
              className="num nowrap"
              title={c.files_changed === null ? undefined : `${int(c.files_changed)} files changed`}
            >
              <Lines insertions={c.insertions} deletions={c.deletions} />
            </td>
            <td className="nowrap right">
              <Time ts={c.committed_at} now={now} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const KINDS: { kind: RunEventKind | 'all'; label: string }[] = [
  { kind: 'all', label: 'All' },
  { kind: 'prompt', label: 'Prompts' },
  { kind: 'tool', label: 'Tool calls' },
  { kind: 'error', label: 'Errors' },
];

const KIND_TONE: Record<RunEventKind, string> = { prompt: 'blue', tool: 'purple', error: 'red' };

/** The run step by step, from its own log: what was asked, what the agent ran, what failed. */
export function Activity({ detail, start, cwd }: { detail: RunDetail; start: number; cwd: string }) {
  // Paths inside the run's working directory read better relative to it.
  const prefix = cwd ? `${cwd.replace(/\/+$/, '')}/` : null;
  const relative = (text: string) => (prefix ? text.split(prefix).join('') : text);
  const [shown, setShown] = useState<RunEventKind | 'all'>('all');
  const events = shown === 'all' ? detail.events : detail.events.filter((e) => e.kind === shown);
  const count = (k: RunEventKind | 'all') => (k === 'all' ? detail.events.length : detail.events.filter((e) => e.kind === k).length);
  return (
    <div data-testid="run-activity">
      <div className="segmented" role="group" aria-label="Show events">
        {KINDS.map(({ kind, label }) => (
          <button key={kind} type="button" aria-pressed={shown === kind} onClick={() => setShown(kind)}>
            {label} <span className="muted">{int(count(kind))}</span>
          </button>
        ))}
      </div>
      {detail.log_problems.map((p) => (
        <p key={p} className="muted small" role="note" data-testid="run-log-problem">
          {p}
        </p>
      ))}
      {detail.events_omitted > 0 ? (
        <p className="muted small">{int(detail.events_omitted)} older events not shown.</p>
      ) : null}
      {events.length === 0 ? (
        <p className="muted small">{detail.events.length === 0 ? 'No prompts, tool calls or errors in the log.' : 'None of this kind.'}</p>
      ) : (
        <ol className="event-list">
          {events.map((e) => (
            <li key={`${e.file}:${e.line}:${e.kind}:${e.text.slice(0, 40)}`} data-kind={e.kind} title={`${e.file}:${e.line}`}>
              <span className="event-time muted" title={absoluteTime(e.at)}>
                +{duration(Math.max(0, e.at - start))}
              </span>
              <Badge tone={KIND_TONE[e.kind]}>{e.kind}</Badge>
              {e.kind === 'tool' ? (
                <code className="event-text">{relative(e.text)}</code>
              ) : (
                <span className="event-text">{e.text}</span>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function RunDetailPanel({ run: row, now, onClose }: { run: AgentRun; now: number; onClose?: () => void }) {
  const id = row.id;
  const fetcher = useCallback((signal: AbortSignal) => api.run(id, signal), [id]);
  const { data, error } = useApi(fetcher, 'agents');
  // The detail's copy of the run is at least as fresh as the list's.
  const r = data?.run ?? row;
  const state = data ? 'loaded' : error ? 'error' : 'loading';
  const byModel = data ? costByModel(data.timeline) : [];
  const end = r.state === 'running' ? Math.max(now, r.ended_at) : r.ended_at;
  return (
    <div className="run-detail" data-testid="run-detail" data-state={state} role="region" aria-label={`Run details: ${r.title || r.id}`}>
      <div className="run-detail-head">
        <AgentBadge agent={r.agent} />
        <RunStateBadge state={r.state} />
        <h2>{r.title || <span className="muted">(no prompt)</span>}</h2>
        <span className="muted small">
          <kbd>Esc</kbd> closes
        </span>
        {onClose ? (
          <button type="button" className="icon" title="Close (Esc)" aria-label="Close run details" onClick={onClose}>
            ×
          </button>
        ) : null}
      </div>
      {error && !data ? (
        <p className="detail-error" role="alert" data-testid="run-detail-error">
          Could not load this run's details: {error}
        </p>
      ) : null}
      <div className="run-detail-grid">
        <section>
          <h3>Session</h3>
          <dl className="kv">
            <dt>models</dt>
            <dd>
              {(r.models.length > 0 ? r.models : [r.model]).map((m) => (
                <code key={m} className="chip">
                  {m}
                </code>
              ))}
            </dd>
            <dt>repo</dt>
            <dd>
              {r.repo ? <span title={r.repo}>{repoBasename(r.repo)}</span> : <span className="muted">not watched</span>}
              {r.branch ? (
                <>
                  {' '}
                  on <code>{r.branch}</code>
                </>
              ) : null}
            </dd>
            <dt>cwd</dt>
            <dd>
              <code>{r.cwd}</code>
            </dd>
            <dt>started</dt>
            <dd>
              {absoluteTime(r.started_at)} (<Time ts={r.started_at} now={now} />)
            </dd>
            <dt>{r.state === 'running' ? 'last activity' : 'ended'}</dt>
            <dd>
              {absoluteTime(r.ended_at)} (<Time ts={r.ended_at} now={now} />)
            </dd>
            <dt>duration</dt>
            <dd>{duration(runDuration(r, now))}</dd>
            <dt>activity</dt>
            <dd>
              {int(r.turns)} turns · {int(r.tool_calls)} tool calls ·{' '}
              {r.errors > 0 ? <Badge tone="red">{int(r.errors)} errors</Badge> : <span>0 errors</span>}
            </dd>
            <dt>skipped lines</dt>
            <dd>
              {r.skipped_lines > 0 ? (
                <Badge tone="amber" title="lines of the session log that could not be read">
                  {int(r.skipped_lines)}
                </Badge>
              ) : (
                '0'
              )}
            </dd>
            <dt>id</dt>
            <dd>
              <code>{r.id}</code>
            </dd>
            <dt>log</dt>
            <dd>
              <code>{r.source_path}</code>
            </dd>
          </dl>
        </section>
        <section>
          <h3>Cost</h3>
          <div className="stat" data-testid="run-cost">
            {money(r.cost_usd)}
          </div>
          {data ? <CostSparkline timeline={data.timeline} start={r.started_at} end={end} /> : null}
          <dl className="kv">
            <dt>tokens</dt>
            <dd>{tokens(totalTokens(r.tokens))}</dd>
            <dt>input</dt>
            <dd>{int(r.tokens.input)}</dd>
            <dt>output</dt>
            <dd>
              {int(r.tokens.output)}
              {r.tokens.reasoning > 0 ? <span className="muted"> (reasoning {int(r.tokens.reasoning)})</span> : null}
            </dd>
            <dt>cache write</dt>
            <dd>{int(r.tokens.cache_write)}</dd>
            <dt>cache read</dt>
            <dd>{int(r.tokens.cache_read)}</dd>
            {byModel.length > 1
              ? byModel.map((m) => (
                  <FragmentRow key={m.model} label={m.model}>
                    {money(m.cost_usd)} <span className="muted">· {int(m.requests)} req</span>
                  </FragmentRow>
                ))
              : null}
          </dl>
        </section>
        <section>
          <h3>Files touched · {int(data ? Math.max(r.files_touched, data.files.length) : r.files_touched)}</h3>
          {data ? (
            data.files.length > 0 ? (
              <ul className="file-list" data-testid="run-files">
                {data.files.map((f) => (
                  <li key={f}>
                    <code title={f}>{f}</code>
                  </li>
                ))}
              </ul>
            ) : (
              <p className="muted small">No files recorded.</p>
            )
          ) : state === 'loading' ? (
            <p className="muted small">Loading…</p>
          ) : null}
        </section>
        <section>
          <h3>Commits{data ? ` · ${int(data.commits.length)}` : ''}</h3>
          {data ? <Commits commits={data.commits} now={now} /> : state === 'loading' ? <p className="muted small">Loading…</p> : null}
        </section>
        <section className="span-all">
          <h3>Activity</h3>
          {data ? <Activity detail={data} start={r.started_at} cwd={r.cwd} /> : state === 'loading' ? <p className="muted small">Loading…</p> : null}
        </section>
      </div>
    </div>
  );
}

function FragmentRow({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>
        <code className="muted">{label}</code>
      </dt>
      <dd>{children}</dd>
    </>
  );
}
