import { TemplateParseError, parseTemplate } from '@platform/template';
import { TemplateCache } from './template-cache';

describe('TemplateCache', () => {
  it('parses a source once and serves the same template afterwards', () => {
    const cache = new TemplateCache({ maxEntries: 10, maxBytes: 1024 * 1024 });
    const first = cache.parse('A={{ .Secrets.A }}');
    expect(cache.parse('A={{ .Secrets.A }}')).toBe(first);
    expect([cache.hits, cache.misses, cache.size]).toEqual([1, 1, 1]);
    expect(first.references()).toEqual(['A']);
  });

  it('evicts the least recently used template beyond its entry limit', () => {
    const cache = new TemplateCache({ maxEntries: 2, maxBytes: 1024 * 1024 });
    const a = cache.parse('a');
    cache.parse('b');
    cache.parse('a');
    cache.parse('c');
    expect(cache.size).toBe(2);
    expect(cache.parse('a')).toBe(a);
    cache.parse('b');
    expect(cache.misses).toBe(4);
  });

  it('keeps the estimated memory of its templates under its byte limit', () => {
    const each = parseTemplate('aaaa').estimatedBytes;
    const cache = new TemplateCache({ maxEntries: 100, maxBytes: 2 * each });
    cache.parse('aaaa');
    cache.parse('bbbb');
    cache.parse('cccc');
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBe(2 * each);
    const large = cache.parse('x'.repeat(100_000));
    expect(large.estimatedBytes).toBeGreaterThan(2 * each);
    expect([cache.size, cache.bytes]).toEqual([2, 2 * each]);
  });

  it('does not cache a source that fails to parse', () => {
    const cache = new TemplateCache({ maxEntries: 10, maxBytes: 1024 * 1024 });
    expect(() => cache.parse('{{ .Secrets.A }')).toThrow(TemplateParseError);
    expect(() => cache.parse('{{ .Secrets.A }')).toThrow(TemplateParseError);
    expect([cache.size, cache.misses]).toEqual([0, 2]);
  });
});
