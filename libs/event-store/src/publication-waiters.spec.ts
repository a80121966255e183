import { PublicationWaiters } from './publication-waiters';

const at = (transactionId: number, position: number) => ({
  transactionId: String(transactionId),
  position: BigInt(position),
});

/** Lets settled promises run their callbacks. */
const flush = () => new Promise(setImmediate);

describe('PublicationWaiters', () => {
  afterEach(() => jest.useRealTimers());

  it('settles exactly the waiters at or before the published position, in (transaction, position) order', async () => {
    const waiters = new PublicationWaiters();
    const settled: string[] = [];
    const watch = (name: string, transaction: number, position: number) =>
      void waiters.wait(at(transaction, position), 60_000).then((published) => settled.push(`${name}:${published}`));
    // Position order is not publishing order: transaction 7 is published before transaction 9's lower position.
    watch('t9p3', 9, 3);
    watch('t7p5', 7, 5);
    watch('t7p8', 7, 8);
    watch('t10p1', 10, 1);

    waiters.advance(at(7, 5));
    await flush();
    expect(settled).toEqual(['t7p5:true']);

    waiters.advance(at(9, 3));
    await flush();
    expect(settled).toEqual(['t7p5:true', 't7p8:true', 't9p3:true']);
    expect(waiters.size).toBe(1);
    waiters.abandon();
  });

  it('answers at once for an event already published, and ignores an older position', async () => {
    const waiters = new PublicationWaiters();
    waiters.advance(at(5, 50));
    waiters.advance(at(4, 99));

    expect(waiters.isPublished(at(5, 50))).toBe(true);
    expect(waiters.isPublished(at(4, 100))).toBe(true);
    expect(waiters.isPublished(at(5, 51))).toBe(false);
    await expect(waiters.wait(at(3, 1), 1)).resolves.toBe(true);
    expect(waiters.size).toBe(0);
  });

  it('resolves false after its timeout and forgets the waiter, leaving the others', async () => {
    jest.useFakeTimers();
    const waiters = new PublicationWaiters();
    const early = waiters.wait(at(1, 1), 100);
    const late = waiters.wait(at(1, 2), 1_000);

    jest.advanceTimersByTime(100);
    await expect(early).resolves.toBe(false);
    expect(waiters.size).toBe(1);

    waiters.advance(at(1, 2));
    await expect(late).resolves.toBe(true);
    expect(waiters.size).toBe(0);
  });

  it('keeps arrival order among waiters of the same event and settles all of them', async () => {
    const waiters = new PublicationWaiters();
    const order: number[] = [];
    const all = [1, 2, 3].map((n) => waiters.wait(at(2, 2), 60_000).then(() => order.push(n)));
    waiters.advance(at(2, 2));
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3]);
  });

  it('settles every waiter with false when abandoned', async () => {
    const waiters = new PublicationWaiters();
    const pending = [waiters.wait(at(1, 1), 60_000), waiters.wait(at(2, 1), 60_000)];
    waiters.abandon();
    await expect(Promise.all(pending)).resolves.toEqual([false, false]);
    expect(waiters.isPublished(at(0, 0))).toBe(false);
  });

  it('compares transaction ids beyond 2^53 exactly', async () => {
    const waiters = new PublicationWaiters();
    const big = 2n ** 60n;
    const pending = waiters.wait({ transactionId: String(big + 1n), position: 1n }, 60_000);
    waiters.advance({ transactionId: String(big), position: 10n });
    expect(waiters.size).toBe(1);
    waiters.advance({ transactionId: String(big + 1n), position: 1n });
    await expect(pending).resolves.toBe(true);
  });
});
