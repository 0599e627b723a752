// A small syntax highlighter for diff lines: comments, strings, numbers and keywords of the
// languages agents most often touch. Line by line (a diff shows fragments, so a block comment
// opened outside the hunk cannot be known anyway); pure, so it is unit-tested.

export type TokenKind = 'kw' | 'str' | 'com' | 'num' | 'plain';
export type Token = { kind: TokenKind; text: string };

type Lang = { line: string[]; quotes: string[]; keywords: Set<string> };

const words = (s: string) => new Set(s.split(/\s+/).filter(Boolean));

const RUST = words(
  'as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while',
);
const TS = words(
  'abstract any as async await boolean break case catch class const continue default delete do else enum export extends false finally for from function if implements import in instanceof interface let new null number of private protected public readonly return static string super switch this throw true try type typeof undefined var void while yield',
);
const PY = words(
  'and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return True try while with yield',
);
const GO = words(
  'break case chan const continue default defer else fallthrough false for func go goto if import interface map nil package range return select struct switch true type var',
);
const SQL = words(
  'add alter and as asc by create default delete desc drop exists from group having in index insert into is join key left limit not null on or order primary references select set table unique update values where',
);
const SHELL = words('case do done elif else esac export fi for function if in local return then until while');

const LANGS: Record<string, Lang> = {
  rs: { line: ['//'], quotes: ['"'], keywords: RUST },
  ts: { line: ['//'], quotes: ['"', "'", '`'], keywords: TS },
  tsx: { line: ['//'], quotes: ['"', "'", '`'], keywords: TS },
  js: { line: ['//'], quotes: ['"', "'", '`'], keywords: TS },
  jsx: { line: ['//'], quotes: ['"', "'", '`'], keywords: TS },
  py: { line: ['#'], quotes: ['"', "'"], keywords: PY },
  go: { line: ['//'], quotes: ['"', '`'], keywords: GO },
  sql: { line: ['--'], quotes: ["'"], keywords: SQL },
  sh: { line: ['#'], quotes: ['"', "'"], keywords: SHELL },
  toml: { line: ['#'], quotes: ['"', "'"], keywords: words('true false') },
  yml: { line: ['#'], quotes: ['"', "'"], keywords: words('true false null') },
  yaml: { line: ['#'], quotes: ['"', "'"], keywords: words('true false null') },
};

/** The language of a file by its extension, or null (plain text). */
export function languageOf(path: string): string | null {
  const ext = path.split('/').pop()?.split('.').slice(1).pop()?.toLowerCase() ?? '';
  return ext in LANGS ? ext : null;
}

/** Splits one line into tokens; joining their texts gives the line back unchanged. */
export function highlight(line: string, lang: string | null): Token[] {
  const l = lang ? LANGS[lang] : undefined;
  if (!l) return [{ kind: 'plain', text: line }];
  const out: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.kind === kind && kind === 'plain') last.text += text;
    else out.push({ kind, text });
  };
  let i = 0;
  while (i < line.length) {
    const rest = line.slice(i);
    const comment = l.line.find((c) => rest.startsWith(c));
    if (comment) {
      push('com', rest);
      break;
    }
    const ch = line[i];
    if (l.quotes.includes(ch)) {
      let j = i + 1;
      while (j < line.length && line[j] !== ch) j += line[j] === '\\' ? 2 : 1;
      push('str', line.slice(i, Math.min(j + 1, line.length)));
      i = Math.min(j + 1, line.length);
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (word) {
      const w = word[0];
      const keyword = l.keywords.has(w) || (lang === 'sql' && l.keywords.has(w.toLowerCase()));
      push(keyword ? 'kw' : 'plain', w);
      i += w.length;
      continue;
    }
    const num = /^\d[\d_]*(\.\d+)?/.exec(rest);
    if (num) {
      push('num', num[0]);
      i += num[0].length;
      continue;
    }
    push('plain', ch);
    i += 1;
  }
  return out;
}
