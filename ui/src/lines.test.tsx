import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { Lines } from './components';

describe('Lines', () => {
  it('shows a known diffstat as added and removed lines', () => {
    const html = renderToStaticMarkup(<Lines insertions={1200} deletions={3} />);
    expect(html).toContain('+1,200');
    expect(html).toContain('−3');
  });

  it('says unknown, never +0 −0, when the diffstat could not be computed', () => {
    const html = renderToStaticMarkup(<Lines insertions={null} deletions={null} />);
    expect(html).toContain('unknown');
    expect(html).not.toContain('+0');
  });
});
