// Pure formatting helpers shared by every view. Timestamps are Unix seconds (UTC).

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `$1,234.50`; tiny non-zero amounts show as `<$0.01`; negatives as `-$3.00`. */
export function money(usd: number): string {
  if (!Number.isFinite(usd)) return '—';
  if (usd !== 0 && Math.abs(usd) < 0.005) return usd < 0 ? '>-$0.01' : '<$0.01';
  const sign = usd < 0 ? '-' : '';
  const [whole, cents] = Math.abs(usd).toFixed(2).split('.');
  return `${sign}$${groupThousands(whole)}.${cents}`;
}

/** Token counts: `950`, `1.2k`, `3.4M`, `1.1B`. */
export function tokens(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  if (a < 1000) return `${sign}${Math.round(a)}`;
  const units: [number, string][] = [
    [1e3, 'k'],
    [1e6, 'M'],
    [1e9, 'B'],
  ];
  let i = 0;
  while (i < units.length - 1 && a >= units[i + 1][0]) i++;
  let text = (a / units[i][0]).toFixed(1);
  // 999,950 would print as "1000.0k": promote it to the next unit.
  if (Number(text) >= 1000 && i < units.length - 1) {
    i++;
    text = (a / units[i][0]).toFixed(1);
  }
  return `${sign}${trimZero(text)}${units[i][1]}`;
}

function trimZero(text: string): string {
  return text.endsWith('.0') ? text.slice(0, -2) : text;
}

/** Plain integer with thousands separators: `12,345`. */
export function int(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const sign = n < 0 ? '-' : '';
  return sign + groupThousands(String(Math.round(Math.abs(n))));
}

/** A 0..1 fraction as a percentage: `42%` (or `42.5%` with digits = 1). */
export function percent(fraction: number, digits = 0): string {
  if (!Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** `just now`, `5m ago`, `3h ago`, `4d ago`, then the date; future times read `in 5m`. */
export function relativeTime(ts: number | null | undefined, nowSec: number): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return '—';
  const diff = nowSec - ts;
  const future = diff < 0;
  const d = Math.abs(diff);
  let text: string;
  if (d < 45) return 'just now';
  if (d < 3600) text = `${Math.max(1, Math.round(d / 60))}m`;
  else if (d < 86400) text = `${Math.floor(d / 3600)}h`;
  else if (d < 30 * 86400) text = `${Math.floor(d / 86400)}d`;
  else return isoDate(ts);
  return future ? `in ${text}` : `${text} ago`;
}

/** `YYYY-MM-DD` in UTC. */
export function isoDate(ts: number): string {
  return new Date(ts * 1000).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD HH:MM UTC`, for tooltips. */
export function absoluteTime(ts: number | null | undefined): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return '';
  return new Date(ts * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** A duration in seconds: `45s`, `12m`, `1h 05m`, `2d 3h`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return `${h}h ${String(m).padStart(2, '0')}m`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return `${d}d ${h}h`;
}

/** Last path component of a repo path (either slash style, trailing slashes ignored). */
export function repoBasename(path: string | null | undefined): string {
  if (!path) return '—';
  const trimmed = path.replace(/[\\/]+$/, '');
  if (trimmed === '') return path;
  const parts = trimmed.split(/[\\/]/);
  return parts[parts.length - 1] || trimmed;
}

/** First `n` characters of a hash. */
export function shortHash(hash: string | null | undefined, n = 8): string {
  return hash ? hash.slice(0, n) : '—';
}

/**
 * How long a run took. A running session is still going, so it counts up to `nowSec` (its last
 * activity can lag behind the clock); finished, failed and waiting runs end at their last entry.
 */
export function runDuration(run: { started_at: number; ended_at: number; state: string }, nowSec: number): number {
  const end = run.state === 'running' ? Math.max(nowSec, run.ended_at) : run.ended_at;
  return end - run.started_at;
}

/** Quotes a path for a POSIX shell when it needs it: `/a/b` stays, `/a b/c` becomes `'/a b/c'`. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./~-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `flightdeck repo add <path>`, the path quoted for a shell when it needs it. */
export function repoAddCommand(path: string): string {
  return `flightdeck repo add ${shellQuote(path)}`;
}

/** Sum of every token kind that is billed separately (reasoning is part of output). */
export function totalTokens(t: { input: number; output: number; cache_write: number; cache_read: number }): number {
  return t.input + t.output + t.cache_write + t.cache_read;
}
