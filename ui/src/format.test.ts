import { describe, expect, it } from 'vitest';
import {
  absoluteTime,
  duration,
  int,
  isoDate,
  money,
  percent,
  relativeTime,
  repoAddCommand,
  repoBasename,
  runDuration,
  shellQuote,
  shortHash,
  tokens,
  totalTokens,
} from './format';

describe('money', () => {
  it('formats dollars with cents and thousands separators', () => {
    expect(money(0)).toBe('$0.00');
    expect(money(1.5)).toBe('$1.50');
    expect(money(12.345)).toBe('$12.35');
    expect(money(1234.5)).toBe('$1,234.50');
    expect(money(1234567.891)).toBe('$1,234,567.89');
  });
  it('shows tiny amounts and negatives honestly', () => {
    expect(money(0.001)).toBe('<$0.01');
    expect(money(-3)).toBe('-$3.00');
    expect(money(Number.NaN)).toBe('—');
  });
});

describe('tokens', () => {
  it('keeps small counts exact', () => {
    expect(tokens(0)).toBe('0');
    expect(tokens(950)).toBe('950');
    expect(tokens(999)).toBe('999');
  });
  it('abbreviates thousands, millions and billions', () => {
    expect(tokens(1000)).toBe('1k');
    expect(tokens(1234)).toBe('1.2k');
    expect(tokens(3_400_000)).toBe('3.4M');
    expect(tokens(12_345_678)).toBe('12.3M');
    expect(tokens(1_100_000_000)).toBe('1.1B');
  });
  it('promotes values that would round to 1000 of a unit', () => {
    expect(tokens(999_950)).toBe('1M');
    expect(tokens(999_949)).toBe('999.9k');
  });
});

describe('int and percent', () => {
  it('groups thousands', () => {
    expect(int(1234567)).toBe('1,234,567');
    expect(int(-42)).toBe('-42');
  });
  it('formats fractions', () => {
    expect(percent(0.425)).toBe('43%');
    expect(percent(0.425, 1)).toBe('42.5%');
    expect(percent(0)).toBe('0%');
  });
});

describe('relativeTime', () => {
  const now = 1_700_000_000;
  it('reads naturally in the past', () => {
    expect(relativeTime(now - 10, now)).toBe('just now');
    expect(relativeTime(now - 5 * 60, now)).toBe('5m ago');
    expect(relativeTime(now - 3 * 3600 - 10, now)).toBe('3h ago');
    expect(relativeTime(now - 4 * 86400, now)).toBe('4d ago');
  });
  it('falls back to the date for old timestamps', () => {
    expect(relativeTime(now - 60 * 86400, now)).toBe(isoDate(now - 60 * 86400));
  });
  it('handles the future and missing values', () => {
    expect(relativeTime(now + 600, now)).toBe('in 10m');
    expect(relativeTime(null, now)).toBe('—');
    expect(relativeTime(0, now)).toBe('—');
  });
  it('absoluteTime is UTC', () => {
    expect(absoluteTime(0)).toBe('');
    expect(absoluteTime(1_700_000_000)).toBe('2023-11-14 22:13 UTC');
  });
});

describe('duration', () => {
  it('picks the right unit', () => {
    expect(duration(45)).toBe('45s');
    expect(duration(12 * 60 + 5)).toBe('12m');
    expect(duration(3600 + 5 * 60)).toBe('1h 05m');
    expect(duration(2 * 86400 + 3 * 3600)).toBe('2d 3h');
    expect(duration(-1)).toBe('—');
  });
});

describe('repoBasename', () => {
  it('returns the last path component', () => {
    expect(repoBasename('/home/me/src/flightdeck')).toBe('flightdeck');
    expect(repoBasename('/home/me/src/flightdeck/')).toBe('flightdeck');
    expect(repoBasename('C:\\Users\\me\\repo')).toBe('repo');
    expect(repoBasename('repo')).toBe('repo');
    expect(repoBasename('/')).toBe('/');
    expect(repoBasename(null)).toBe('—');
  });
});

describe('shortHash', () => {
  it('shortens', () => {
    expect(shortHash('0123456789abcdef')).toBe('01234567');
    expect(shortHash('0123456789abcdef', 4)).toBe('0123');
    expect(shortHash('')).toBe('—');
  });
});

describe('runDuration', () => {
  it('ends finished, failed and waiting runs at their last entry', () => {
    expect(runDuration({ started_at: 100, ended_at: 400, state: 'finished' }, 10_000)).toBe(300);
    expect(runDuration({ started_at: 100, ended_at: 400, state: 'failed' }, 10_000)).toBe(300);
    expect(runDuration({ started_at: 100, ended_at: 400, state: 'idle' }, 10_000)).toBe(300);
  });
  it('counts a running session up to now', () => {
    expect(runDuration({ started_at: 100, ended_at: 400, state: 'running' }, 1000)).toBe(900);
    // A clock behind the log does not shorten it.
    expect(runDuration({ started_at: 100, ended_at: 400, state: 'running' }, 200)).toBe(300);
  });
  it('reads well through duration()', () => {
    expect(duration(runDuration({ started_at: 0, ended_at: 3900, state: 'finished' }, 0))).toBe('1h 05m');
  });
});

describe('shellQuote and repoAddCommand', () => {
  it('leaves plain paths alone', () => {
    expect(shellQuote('/home/me/src/app')).toBe('/home/me/src/app');
    expect(shellQuote('~/src/app-2.0')).toBe('~/src/app-2.0');
  });
  it('quotes spaces, quotes and shell characters', () => {
    expect(shellQuote('/home/me/My Repo')).toBe("'/home/me/My Repo'");
    expect(shellQuote("/tmp/it's")).toBe("'/tmp/it'\\''s'");
    expect(shellQuote('/tmp/$HOME;rm')).toBe("'/tmp/$HOME;rm'");
    expect(shellQuote('')).toBe("''");
  });
  it('builds the add command', () => {
    expect(repoAddCommand('/work/app')).toBe('flightdeck repo add /work/app');
    expect(repoAddCommand('/work/my app')).toBe("flightdeck repo add '/work/my app'");
  });
});

describe('totalTokens', () => {
  it('sums the billed kinds (reasoning is inside output)', () => {
    expect(totalTokens({ input: 1, output: 20, cache_write: 300, cache_read: 4000 })).toBe(4321);
  });
});
