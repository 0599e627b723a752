import { describe, expect, it } from 'vitest';
import { highlight, languageOf } from './highlight';

const kinds = (line: string, lang: string | null) => highlight(line, lang).map((t) => `${t.kind}:${t.text}`);

describe('highlight', () => {
  it('knows languages by extension', () => {
    expect(languageOf('src/lib.rs')).toBe('rs');
    expect(languageOf('ui/App.TSX')).toBe('tsx');
    expect(languageOf('migrations/001.sql')).toBe('sql');
    expect(languageOf('README')).toBeNull();
    expect(languageOf('notes.txt')).toBeNull();
  });

  it('marks keywords, strings, numbers and comments', () => {
    expect(kinds('let x = "a // b"; // done', 'rs')).toEqual([
      'kw:let',
      'plain: x = ',
      'str:"a // b"',
      'plain:; ',
      'com:// done',
    ]);
    expect(kinds("def f(n=42): return 'x'  # why", 'py')).toEqual([
      'kw:def',
      'plain: f(n=',
      'num:42',
      'plain:): ',
      'kw:return',
      'plain: ',
      "str:'x'",
      'plain:  ',
      'com:# why',
    ]);
    expect(kinds('SELECT id FROM users', 'sql')).toEqual(['kw:SELECT', 'plain: id ', 'kw:FROM', 'plain: users']);
  });

  it('gives every line back unchanged, escapes and open strings included', () => {
    for (const [line, lang] of [
      ['const s = "a \\" b" + `t`;', 'ts'],
      ['x = "unterminated', 'py'],
      ['plain text, no language', null],
      ['', 'rs'],
    ] as const) {
      expect(highlight(line, lang).map((t) => t.text).join('')).toBe(line);
    }
  });
});
