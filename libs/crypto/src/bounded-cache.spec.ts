import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  it('evicts the least recently used entry beyond its bound', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.size]).toEqual([1, undefined, 3, 2]);
  });

  it('forgets entries after their time-to-live or their own expiry, whichever is sooner', () => {
    let now = 1_000;
    const cache = new BoundedCache<string, number>(10, 100, () => now);
    cache.set('ttl', 1);
    cache.set('short', 2, 1_050);
    now = 1_050;
    expect([cache.get('ttl'), cache.get('short')]).toEqual([1, undefined]);
    now = 1_100;
    expect(cache.get('ttl')).toBeUndefined();
  });

  it('deletes by predicate', () => {
    const cache = new BoundedCache<string, string>(10);
    cache.set('k1', 'acme');
    cache.set('k2', 'globex');
    cache.deleteWhere((org) => org === 'acme');
    expect([cache.get('k1'), cache.get('k2')]).toEqual([undefined, 'globex']);
  });

  it('tells whether any unexpired value matches', () => {
    let now = 1_000;
    const cache = new BoundedCache<string, string>(10, 100, () => now);
    cache.set('k1', 'acme');
    cache.set('k2', 'globex', 1_050);
    expect([cache.some((org) => org === 'globex'), cache.some((org) => org === 'initech')]).toEqual([true, false]);
    now = 1_050;
    expect(cache.some((org) => org === 'globex')).toBe(false);
  });

  it('refuses a bound below one', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
  });
});
