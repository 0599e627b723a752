import { useCallback, useRef, useState } from 'react';
import { api, type DispatchDetail } from '../api';
import { assigneeLabel, cardsOf, moveTarget, STATE_LABEL, type Card } from '../board';
import { Badge, Empty, ErrorBox, LiveDot, Loading, Time, ViewHeader } from '../components';
import { money, repoBasename } from '../format';
import type { BoardColumn } from '../generated/BoardColumn';
import type { BoardItem } from '../generated/BoardItem';
import type { Dispatch } from '../generated/Dispatch';
import type { WorkBoard } from '../generated/WorkBoard';
import type { WorkState } from '../generated/WorkState';
import { useApi, useList, type ViewProps } from '../hooks';
import type { ListAct } from '../keys';

const DISPATCH_TONE: Record<string, string> = {
  queued: 'amber',
  running: 'blue',
  succeeded: 'green',
  failed: 'red',
  cancelled: 'amber',
};

function DispatchBadge({ d }: { d: Dispatch }) {
  return (
    <Badge tone={DISPATCH_TONE[d.state] ?? undefined} title={d.error ?? `${d.agent} on ${d.branch}`}>
      {d.state === 'running' ? <LiveDot /> : null} {d.agent} {d.state}
    </Badge>
  );
}

function loadText(c: BoardColumn): string {
  const parts = [`${c.load.open} open`];
  if (c.assignee?.startsWith('agent:')) parts.push(`${c.load.running} running`);
  parts.push(`${c.load.review_queue} in review`);
  return parts.join(' · ');
}

/** The live output of a dispatch, refreshed as the agent prints (work events). */
function DispatchLog({ id }: { id: string }) {
  const fetcher = useCallback((s: AbortSignal) => api.dispatchDetail(id, s), [id]);
  const { data, error } = useApi<DispatchDetail>(fetcher, 'work');
  if (error) return <ErrorBox message={error} />;
  if (!data) return <Loading />;
  return (
    <div data-testid="dispatch-log">
      <div className="muted">
        {data.id} · {data.agent} on <code>{data.branch}</code> in <code>{data.worktree}</code>
        {data.error ? <> · <span className="detail-error">{data.error}</span></> : null}
      </div>
      <pre className="log">{data.log.length > 0 ? data.log.join('\n') : '(no output yet)'}</pre>
    </div>
  );
}

function Detail({
  item,
  board,
  now,
  onDone,
}: {
  item: BoardItem;
  board: WorkBoard;
  now: number;
  onDone: (text: string, ok: boolean) => void;
}) {
  const w = item.work;
  const agents = board.agents.map((a) => a.name);
  const assigned = w.assignee?.startsWith('agent:') ? w.assignee.slice(6) : '';
  // The item's own agent unless another is picked (it follows a reassignment).
  const [chosen, setAgent] = useState('');
  const agent = chosen || assigned || agents[0] || '';
  const d = item.dispatch;
  const live = d && (d.state === 'running' || d.state === 'queued');
  const run = (p: Promise<unknown>, ok: string) =>
    p.then(
      () => onDone(ok, true),
      (e: Error) => onDone(e.message, false),
    );
  return (
    <div className="card work-detail" data-testid="work-detail">
      <h2>
        {w.title} <span className="muted">{w.id}</span>
      </h2>
      {w.body ? <p className="pre-wrap">{w.body}</p> : null}
      <p className="muted">
        {w.repo ? <>repo <code>{repoBasename(w.repo)}</code> · </> : null}
        from {w.source} · updated <Time ts={w.updated_at} now={now} /> · {item.runs} runs · {money(item.cost_usd)}
      </p>
      {w.links.length > 0 ? (
        <ul className="links" data-testid="work-links">
          {w.links.map((l) => (
            <li key={`${l.kind}:${l.target}`}>
              {l.kind} <code>{l.target}</code>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="actions-bar">
        <label>
          State{' '}
          <select value={w.state} onChange={(e) => {
            // The options are the board's states, so the value is one of them.
            const next = e.target.value as WorkState;
            void run(api.setState(w.id, next), `${w.id} is ${STATE_LABEL[next]}`);
          }}>
            {board.states.map((s) => (
              <option key={s} value={s}>
                {STATE_LABEL[s] ?? s}
              </option>
            ))}
          </select>
        </label>
        {agents.length > 0 ? (
          <>
            <select aria-label="Agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
              {agents.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
            <button type="button" disabled={!w.repo || !agent} title={w.repo ? undefined : 'a work item needs a repo to be dispatched'} onClick={() => void run(api.dispatch(w.id, agent), `${w.id} dispatched to ${agent}`)}>
              Dispatch to {agent || 'agent'}
            </button>
          </>
        ) : (
          <span className="muted">No agents configured: add <code>[agents.NAME]</code> to the config to dispatch work.</span>
        )}
        {live && d ? (
          <button type="button" className="danger" onClick={() => void run(api.cancel(d.id), `${d.id} cancelled`)}>
            Cancel {d.id}
          </button>
        ) : null}
      </div>
      {d ? <DispatchLog id={d.id} /> : null}
    </div>
  );
}

export default function Work({ selected, setSelected, list }: ViewProps) {
  const { data, error, loading, now } = useApi(api.work, 'work');
  const cards = cardsOf(data);
  const [openId, setOpenId] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; ok: boolean } | null>(null);
  const [adding, setAdding] = useState(false);
  const cardsRef = useRef<Card[]>(cards);
  cardsRef.current = cards;
  const boardRef = useRef<WorkBoard | null>(data);
  boardRef.current = data;
  const dragged = useRef<string | null>(null);

  const done = useCallback((text: string, ok: boolean) => setNotice({ text, ok }), []);
  const assign = useCallback(
    (id: string, to: string) =>
      api.assign(id, to).then(
        () => done(`${id} → ${assigneeLabel(to)}`, true),
        (e: Error) => done(e.message, false),
      ),
    [done],
  );
  const toggle = useCallback((i: number) => {
    const id = cardsRef.current[i]?.item.work.id ?? null;
    setOpenId((cur) => (cur === id ? null : id));
  }, []);
  const close = () => {
    if (!openId) return false;
    setOpenId(null);
    return true;
  };
  const act = (i: number, which: ListAct) => {
    const card = cardsRef.current[i];
    const board = boardRef.current;
    if (!card || !board) return;
    const w = card.item.work;
    if (which === 'left' || which === 'right') {
      const to = moveTarget(board, card, which === 'left' ? -1 : 1);
      if (to) void assign(w.id, to);
    } else if (which === 'dispatch') {
      const agent = w.assignee?.startsWith('agent:') ? w.assignee.slice(6) : null;
      if (!agent) {
        done(`${w.id} is not assigned to an agent: move it to an agent's column first`, false);
        return;
      }
      void api.dispatch(w.id, agent).then(
        (d) => {
          done(`${w.id} dispatched to ${agent} (${d.id})`, true);
          setOpenId(w.id);
        },
        (e: Error) => done(e.message, false),
      );
    }
  };
  useList(list, cards.length, toggle, close, act);

  const open = cards.find((c) => c.item.work.id === openId) ?? null;
  return (
    <section data-testid="view-work" className="view">
      <ViewHeader title="Work">
        {data ? `${cards.length} items` : null}
        {data?.agents.map((a) => (
          <span key={a.name}>
            {' '}
            <Badge tone={a.running > 0 ? 'blue' : undefined} title={`${a.vendor ?? ''} ${a.model ?? ''}`.trim() || undefined}>
              {a.running > 0 ? <LiveDot /> : null} {a.name} {a.running}/{a.concurrency}
              {a.queued > 0 ? ` +${a.queued} queued` : ''}
            </Badge>
          </span>
        ))}
        <button type="button" onClick={() => setAdding((v) => !v)}>
          New work item
        </button>
      </ViewHeader>
      {error ? <ErrorBox message={error} /> : null}
      {loading && !data ? <Loading /> : null}
      {notice ? (
        <p className={notice.ok ? 'notice ok' : 'notice fail'} data-testid="work-notice" role="status">
          {notice.text}
        </p>
      ) : null}
      {adding && data ? <NewWorkForm board={data} onDone={(t, ok) => { done(t, ok); if (ok) setAdding(false); }} /> : null}
      {data && cards.length === 0 ? (
        <Empty>
          No work items yet. Add one here or with <code>flightdeck work add "title" --repo PATH</code>; configured agents
          (<code>[agents.NAME]</code> in the config) can then be dispatched to it.
        </Empty>
      ) : null}
      {data ? (
        <div className="board" data-testid="board">
          {data.columns.map((c, ci) => (
            <div
              key={c.assignee ?? '-'}
              className="board-column"
              data-testid="board-column"
              data-assignee={c.assignee ?? ''}
              onDragOver={(e) => {
                if (c.assignee) e.preventDefault();
              }}
              onDrop={(e) => {
                e.preventDefault();
                const id = dragged.current;
                dragged.current = null;
                if (id && c.assignee) void assign(id, c.assignee);
              }}
            >
              <div className="board-column-head">
                <strong>{assigneeLabel(c.assignee)}</strong>
                <span className="muted" data-testid="load">{loadText(c)}</span>
              </div>
              {c.items.map((it) => {
                const index = cards.findIndex((x) => x.column === ci && x.item.work.id === it.work.id);
                const sel = index === selected;
                return (
                  <div
                    key={it.work.id}
                    className={`work-card${sel ? ' sel' : ''}${it.work.state === 'done' || it.work.state === 'dropped' ? ' closed' : ''}`}
                    data-testid="row"
                    data-work={it.work.id}
                    aria-selected={sel}
                    draggable
                    onDragStart={() => {
                      dragged.current = it.work.id;
                    }}
                    onClick={() => {
                      setSelected(index);
                      setOpenId(it.work.id);
                    }}
                  >
                    <div className="strong clamp" title={it.work.title}>
                      {it.work.title}
                    </div>
                    <div className="work-card-meta">
                      <Badge>{STATE_LABEL[it.work.state] ?? it.work.state}</Badge>
                      {it.dispatch ? <DispatchBadge d={it.dispatch} /> : null}
                      {it.work.source === 'github' ? <Badge title="a GitHub issue: reassigning it changes its assignees and agent label there">GitHub #{it.work.id.split('#')[1]}</Badge> : null}
                      {it.work.labels.filter((l) => !l.startsWith('agent:')).map((l) => (
                        <span key={l} className="label-chip">
                          {l}
                        </span>
                      ))}
                      {it.work.repo ? <span className="muted">{repoBasename(it.work.repo)}</span> : null}
                      {it.cost_usd > 0 ? <span className="muted">{money(it.cost_usd)}</span> : null}
                    </div>
                  </div>
                );
              })}
            </div>
          ))}
        </div>
      ) : null}
      {open && data ? <Detail key={open.item.work.id} item={open.item} board={data} now={now} onDone={done} /> : null}
      {cards.length > 0 ? (
        <p className="hint">
          j / k select · Enter opens · [ / ] (or h / l) hand the item to the column on the left / right · d dispatches it
          to its agent · drag a card onto a column to reassign it.
        </p>
      ) : null}
    </section>
  );
}

function NewWorkForm({ board, onDone }: { board: WorkBoard; onDone: (text: string, ok: boolean) => void }) {
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [repo, setRepo] = useState('');
  const [assignee, setAssignee] = useState('');
  const repos = Array.from(new Set(cardsOf(board).flatMap((c) => (c.item.work.repo ? [c.item.work.repo] : []))));
  const assignees = board.columns.flatMap((c) => (c.assignee ? [c.assignee] : []));
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    api
      .addWork({ title, body, repo: repo || undefined, assignee: assignee || undefined })
      .then(
        (w) => onDone(`${w.id} added`, true),
        (err: Error) => onDone(err.message, false),
      );
  };
  return (
    <form className="card new-work" onSubmit={submit} data-testid="new-work">
      <input aria-label="Title" placeholder="Title" value={title} onChange={(e) => setTitle(e.target.value)} required />
      <textarea aria-label="Task" placeholder="The task in full (the agent's prompt)" value={body} onChange={(e) => setBody(e.target.value)} />
      <input aria-label="Repo" placeholder="Repo path" list="work-repos" value={repo} onChange={(e) => setRepo(e.target.value)} />
      <datalist id="work-repos">
        {repos.map((r) => (
          <option key={r} value={r} />
        ))}
      </datalist>
      <input aria-label="Assignee" placeholder="person:NAME or agent:NAME" list="work-assignees" value={assignee} onChange={(e) => setAssignee(e.target.value)} />
      <datalist id="work-assignees">
        {assignees.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <button type="submit">Add</button>
    </form>
  );
}
