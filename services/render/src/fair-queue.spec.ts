import { FairQueue } from './fair-queue';

function drain<T>(queue: FairQueue<T>): T[] {
  const started: T[] = [];
  for (let next = queue.next(); next; next = queue.next()) started.push(next.item);
  return started;
}

describe('FairQueue', () => {
  it('starts tenants in turn, so a long line does not hold back a tenant that arrives after it', () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 100, maxQueuedPerTenant: 100 });
    for (const item of ['a1', 'a2', 'a3']) queue.push('A', item);
    queue.push('B', 'b1');
    queue.push('C', 'c1');
    queue.push('B', 'b2');
    expect(queue.waiting).toBe(6);
    expect(drain(queue)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    expect(queue.waiting).toBe(0);
  });

  it('starts no more of a tenant than its running cap until one of them is done', () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 1, maxQueuedPerTenant: 100 });
    queue.push('A', 'a1');
    queue.push('A', 'a2');
    queue.push('B', 'b1');
    expect(drain(queue)).toEqual(['a1', 'b1']);
    expect(queue.waiting).toBe(1);
    queue.done('B');
    expect(queue.next()).toBeUndefined();
    queue.done('A');
    expect(queue.next()).toEqual({ tenant: 'A', item: 'a2' });
  });

  it("refuses past one tenant's queue bound without touching the others' lines", () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 1, maxQueuedPerTenant: 2 });
    expect(queue.push('A', 'a1')).toBe(true);
    expect(queue.push('A', 'a2')).toBe(true);
    expect(queue.push('A', 'a3')).toBe(false);
    expect(queue.push('B', 'b1')).toBe(true);
    expect(queue.waiting).toBe(3);
    // A started one: its line has room again.
    expect(queue.next()).toEqual({ tenant: 'A', item: 'a1' });
    expect(queue.push('A', 'a3')).toBe(true);
    expect(drain(queue)).toEqual(['b1']);
  });

  it('forgets a tenant once it has nothing running or waiting', () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 2, maxQueuedPerTenant: 1 });
    queue.push('A', 'a1');
    queue.next();
    queue.done('A');
    expect(() => queue.done('A')).toThrow('FairQueue.done without a running item of that tenant');
  });

  it('passes over a tenant the caller has no room for, keeping its turn', () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 10, maxQueuedPerTenant: 10 });
    queue.push('A', 'a1');
    queue.push('B', 'b1');
    expect(queue.next((tenant) => tenant !== 'A')).toEqual({ tenant: 'B', item: 'b1' });
    expect(queue.next((tenant) => tenant !== 'A')).toBeUndefined();
    expect(queue.next()).toEqual({ tenant: 'A', item: 'a1' });
  });

  it('puts a retried item back at the head of its line, past the bound it was admitted under', () => {
    const queue = new FairQueue<string>({ maxRunningPerTenant: 2, maxQueuedPerTenant: 1 });
    queue.push('A', 'a1');
    queue.push('B', 'b1');
    expect(drain(queue)).toEqual(['a1', 'b1']);
    queue.push('A', 'a2');
    queue.retry('A', 'a1');
    expect(queue.waiting).toBe(2);
    expect(drain(queue)).toEqual(['a1', 'a2']);
  });
});
