import { statement } from './prepared-statement';

describe('statement', () => {
  it('sends a text unnamed unless it is marked prepared', () => {
    expect(statement('select 1', [])).toEqual({ text: 'select 1', values: [] });
    expect(statement('select 1', [], { prepared: false })).toEqual({ text: 'select 1', values: [] });
  });

  it('names a prepared text after the text, the same name every time, another name for another text', () => {
    const first = statement('select $1::int as n', [1], { prepared: true });
    const again = statement('select $1::int as n', [2], { prepared: true });
    const other = statement('select $1::text as t', ['a'], { prepared: true });
    expect(first).toEqual({
      name: expect.stringMatching(/^es_[A-Za-z0-9_-]{22}$/),
      text: 'select $1::int as n',
      values: [1],
    });
    expect(again.name).toBe(first.name);
    expect(again.values).toEqual([2]);
    expect(other.name).not.toBe(first.name);
  });

  it('stops naming new texts beyond its bound, so dynamically built texts cannot pile up on every connection', () => {
    const names = Array.from({ length: 300 }, (_, n) => statement(`select ${n}`, [], { prepared: true }).name);
    expect(names.filter((name) => name === undefined).length).toBeGreaterThan(0);
    expect(statement('select $1::int as n', [3], { prepared: true }).name).toMatch(/^es_/);
  });

  it('gives a statement its own client-side timeout when asked, prepared or not', () => {
    expect(statement('select 2', [], { timeoutMs: 1000 })).toEqual({
      text: 'select 2',
      values: [],
      query_timeout: 1000,
    });
    expect(statement('select 3', [], { prepared: true, timeoutMs: 500 })).toMatchObject({
      name: expect.stringMatching(/^es_/),
      text: 'select 3',
      query_timeout: 500,
    });
  });
});
