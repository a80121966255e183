import { AuditLag, type AuditLagSources, type UnappliedEvent, auditLagSeconds } from './audit-lag';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const secondsAgo = (seconds: number) => new Date(NOW - seconds * 1000);

function unapplied(sequence: number, occurredSecondsAgo: number): UnappliedEvent {
  return { sequence, occurredAt: secondsAgo(occurredSecondsAgo), storedAt: secondsAgo(occurredSecondsAgo - 0.01) };
}

/** A database and a stream that answer from what the test sets, or fail / hang when told to. */
class FakeTrail implements AuditLagSources {
  position = 0;
  /** The stream's messages after some position; a sequence not listed is not in the stream. */
  messages: UnappliedEvent[] = [];
  database: 'up' | 'down' | 'hanging' = 'up';
  stream: 'up' | 'down' = 'up';
  readonly askedFrom: number[] = [];

  appliedPosition(): Promise<number> {
    if (this.database === 'down') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    if (this.database === 'hanging') return new Promise(() => undefined);
    return Promise.resolve(this.position);
  }

  firstMessageFrom(sequence: number): Promise<UnappliedEvent | undefined> {
    this.askedFrom.push(sequence);
    if (this.stream === 'down') return Promise.reject(new Error('TIMEOUT'));
    return Promise.resolve(this.messages.find((message) => message.sequence >= sequence));
  }
}

describe('auditLagSeconds', () => {
  it('is 0 when no event waits after the applied position, however old the last applied one is', () => {
    expect(auditLagSeconds(undefined, NOW)).toBe(0);
  });

  it('is how long the oldest waiting event has waited since it occurred', () => {
    expect(auditLagSeconds(unapplied(7, 42.5), NOW)).toBe(42.5);
  });

  it('uses the stream time of a waiting message that breaks the contract, and never goes below 0', () => {
    expect(auditLagSeconds({ sequence: 7, occurredAt: undefined, storedAt: secondsAgo(3) }, NOW)).toBe(3);
    expect(auditLagSeconds(unapplied(7, -5), NOW)).toBe(0);
  });
});

describe('AuditLag', () => {
  let trail: FakeTrail;
  let lag: AuditLag;

  beforeEach(() => {
    trail = new FakeTrail();
    lag = new AuditLag(trail, 20);
  });

  it('reads 0 once the trail holds everything in the stream', async () => {
    trail.position = 10;
    expect(await lag.seconds(NOW)).toBe(0);
    expect(trail.askedFrom).toEqual([11]);
  });

  it('grows while an event waits behind the applied position, and drops to 0 when it is applied', async () => {
    trail.position = 10;
    trail.messages = [unapplied(11, 5), unapplied(12, 1)];
    expect(await lag.seconds(NOW)).toBe(5);
    expect(await lag.seconds(NOW + 10_000)).toBe(15);
    trail.position = 11;
    expect(await lag.seconds(NOW + 10_000)).toBe(11);
    trail.position = 12;
    expect(await lag.seconds(NOW + 10_000)).toBe(0);
  });

  it('passes over sequences deleted from the stream to the next message still there', async () => {
    trail.position = 10;
    trail.messages = [unapplied(14, 8)];
    expect(await lag.seconds(NOW)).toBe(8);
  });

  it('keeps growing while the database is down, from the last position it or the applier gave', async () => {
    trail.position = 10;
    expect(await lag.seconds(NOW)).toBe(0);
    lag.applied(12);
    trail.database = 'down';
    trail.messages = [unapplied(11, 60), unapplied(13, 20)];
    expect(await lag.seconds(NOW)).toBe(20);
    expect(await lag.seconds(NOW + 30_000)).toBe(50);
    expect(trail.askedFrom.slice(-2)).toEqual([13, 13]);
  });

  it('does not wait for a database that does not answer', async () => {
    trail.position = 10;
    await lag.seconds(NOW);
    trail.database = 'hanging';
    trail.messages = [unapplied(11, 4)];
    expect(await lag.seconds(NOW)).toBe(4);
  });

  it('keeps the last waiting event it saw while the stream does not answer, so the lag keeps growing', async () => {
    trail.position = 10;
    trail.messages = [unapplied(11, 2)];
    expect(await lag.seconds(NOW)).toBe(2);
    trail.stream = 'down';
    expect(await lag.seconds(NOW + 60_000)).toBe(62);
    trail.position = 11; // applied meanwhile: what waits now is unknown until the stream answers
    expect(await lag.seconds(NOW + 60_000)).toBe(0);
  });

  it('reads 0 without asking the stream while no position was ever known', async () => {
    trail.database = 'down';
    trail.messages = [unapplied(1, 3_600)];
    expect(await lag.seconds(NOW)).toBe(0);
    expect(trail.askedFrom).toEqual([]);
  });
});
