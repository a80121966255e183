import { ValueCache } from './value-cache';

describe('ValueCache', () => {
  it('serves a value by stream and version, and counts hits and misses', () => {
    const cache = new ValueCache();
    cache.set('secret:acme:_:A', 1, 'one');
    expect(cache.get('secret:acme:_:A', 1)).toBe('one');
    expect(cache.get('secret:acme:_:A', 2)).toBeUndefined();
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  it('evicts the least recently used entry beyond its count', () => {
    const cache = new ValueCache({ maxEntries: 2 });
    cache.set('s', 1, 'a');
    cache.set('s', 2, 'b');
    cache.get('s', 1);
    cache.set('s', 3, 'c');
    expect(cache.get('s', 2)).toBeUndefined();
    expect(cache.get('s', 1)).toBe('a');
    expect(cache.get('s', 3)).toBe('c');
  });

  it('evicts beyond its size and never keeps a value larger than the whole budget', () => {
    const cache = new ValueCache({ maxUnits: 10 });
    cache.set('s', 1, 'x'.repeat(6));
    cache.set('s', 2, 'y'.repeat(6));
    expect(cache.get('s', 1)).toBeUndefined();
    expect(cache.get('s', 2)).toBe('yyyyyy');
    cache.set('s', 3, 'z'.repeat(11));
    expect(cache.get('s', 3)).toBeUndefined();
  });

  it('expires values after the TTL', () => {
    let now = 0;
    const cache = new ValueCache({ ttlMs: 100, clock: () => now });
    cache.set('s', 1, 'a');
    now = 99;
    expect(cache.get('s', 1)).toBe('a');
    now = 200;
    expect(cache.get('s', 1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("forgets one organization's values only", () => {
    const cache = new ValueCache();
    cache.set('secret:acme:_:A', 1, 'a');
    cache.set('secret:acme2:_:A', 1, 'b');
    cache.forgetOrganization('acme');
    expect(cache.get('secret:acme:_:A', 1)).toBeUndefined();
    expect(cache.get('secret:acme2:_:A', 1)).toBe('b');
  });

  it("forgets one customer's values, and single destroyed versions, leaving the rest", () => {
    const cache = new ValueCache();
    cache.set('secret:acme:_:A', 1, 'vendor');
    cache.set('secret:acme:globex:A', 1, 'globex');
    cache.set('secret:acme:globex2:A', 1, 'globex2');
    cache.set('secret:acme:_:B', 1, 'b1');
    cache.set('secret:acme:_:B', 2, 'b2');
    cache.forgetCustomer('acme', 'globex');
    expect(cache.get('secret:acme:globex:A', 1)).toBeUndefined();
    expect(cache.get('secret:acme:globex2:A', 1)).toBe('globex2');
    expect(cache.get('secret:acme:_:A', 1)).toBe('vendor');
    cache.forgetVersions('secret:acme:_:B', [1]);
    expect(cache.get('secret:acme:_:B', 1)).toBeUndefined();
    expect(cache.get('secret:acme:_:B', 2)).toBe('b2');
  });
});
