import { SharedReads } from './shared-reads';

/** A query whose calls are counted and whose result is the database state at the moment it starts. */
function database() {
  const state = { version: 1, queries: 0 };
  const query = () => {
    state.queries += 1;
    const seen = state.version;
    return new Promise<number>((resolve) => setTimeout(() => resolve(seen), 5));
  };
  return { state, query };
}

describe('SharedReads', () => {
  it('runs one query for identical reads that arrive together and gives each the same result', async () => {
    const reads = new SharedReads<number>();
    const { state, query } = database();
    const results = await Promise.all(Array.from({ length: 50 }, () => reads.read('acme', query)));
    expect(results).toEqual(Array(50).fill(1));
    expect(state.queries).toBe(1);
  });

  it('never serves a read older data than it would have read alone: one arriving once the query started waits for its own', async () => {
    const reads = new SharedReads<number>();
    const { state, query } = database();
    const first = reads.read('acme', query);
    await new Promise((resolve) => setImmediate(resolve));
    // The first query is now running; a write commits and is acknowledged, then a read arrives.
    state.version = 2;
    const second = reads.read('acme', query);
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(state.queries).toBe(2);
  });

  it('keeps reads with different keys apart', async () => {
    const reads = new SharedReads<string>();
    const results = await Promise.all([
      reads.read('acme', async () => 'acme rows'),
      reads.read('globex', async () => 'globex rows'),
    ]);
    expect(results).toEqual(['acme rows', 'globex rows']);
  });

  it('rejects every joiner when the shared query fails, and the next read queries again', async () => {
    const reads = new SharedReads<number>();
    let calls = 0;
    const failing = () => {
      calls += 1;
      return Promise.reject(new Error('connection lost'));
    };
    const outcomes = await Promise.allSettled([reads.read('acme', failing), reads.read('acme', failing)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    await expect(reads.read('acme', async () => 7)).resolves.toBe(7);
    expect(calls).toBe(1);
  });
});
