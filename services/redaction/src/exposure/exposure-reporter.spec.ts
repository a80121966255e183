import { type ReportExposureRequestJson } from '@platform/contracts';
import pino from 'pino';
import { type LogSource } from '../logs/log-message';
import { ExposureReporter, MAX_OPEN_WINDOWS_PER_ORGANIZATION } from './exposure-reporter';

const source = (deploymentId: string, customer: string | null = 'globex'): LogSource => ({
  scope: { organizationId: 'acme', customerOrganizationId: customer },
  deploymentId,
  redactedSubject: `logs.redacted.acme.${customer ?? '_'}.${deploymentId}`,
});
const DB = { key: 'DB_PASSWORD', version: 2, scope: 'vendor' } as const;

/** A reporter on a hand-driven clock and timer list. */
function reporterWith(send: (report: ReportExposureRequestJson) => Promise<void>) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const timers: Array<{ at: number; task: () => void; cancelled: boolean }> = [];
  const outcomes: string[] = [];
  const reporter = new ExposureReporter({
    send,
    windowMs: 60_000,
    logger: pino({ level: 'silent' }),
    outcome: (outcome) => outcomes.push(outcome),
    clock: () => now,
    schedule: (task, ms) => {
      const timer = { at: now + ms, task, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
  });
  const advance = async (ms: number) => {
    now += ms;
    for (const timer of timers.splice(0).filter((t) => !t.cancelled)) {
      if (timer.at <= now) timer.task();
      else timers.push(timer);
    }
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { reporter, advance, outcomes, at: (offsetMs: number) => now + offsetMs };
}

describe('ExposureReporter', () => {
  it('sends one report per deployment and secret version per window, with lines and first and last seen', async () => {
    const sent: ReportExposureRequestJson[] = [];
    const { reporter, advance, at } = reporterWith(async (report) => void sent.push(report));
    const start = at(0);
    reporter.seen(source('shop'), [DB]);
    reporter.seen(source('shop'), [DB], at(10_000));
    reporter.seen(source('shop'), [DB], at(20_000));
    reporter.seen(source('web', null), [DB], at(5_000));
    await advance(59_000);
    expect(sent).toEqual([]);
    await advance(1_000);
    expect(sent).toEqual([
      {
        organizationId: 'acme',
        customerOrganizationId: 'globex',
        deploymentId: 'shop',
        ...DB,
        lineCount: 3,
        firstSeenAt: new Date(start).toISOString(),
        lastSeenAt: new Date(start + 20_000).toISOString(),
      },
      expect.objectContaining({ deploymentId: 'web', lineCount: 1 }),
    ]);
    expect(sent[1]).not.toHaveProperty('customerOrganizationId');
    // The next sighting opens a new window.
    reporter.seen(source('shop'), [DB]);
    await advance(60_000);
    expect(sent).toHaveLength(3);
  });

  it('keeps a report secrets did not take and sends it, merged, with the next window', async () => {
    const sent: ReportExposureRequestJson[] = [];
    let failing = true;
    const { reporter, advance, outcomes } = reporterWith(async (report) => {
      if (failing) throw new Error('secrets unavailable');
      sent.push(report);
    });
    reporter.seen(source('shop'), [DB]);
    await advance(60_000);
    expect(outcomes).toEqual(['retried']);
    failing = false;
    reporter.seen(source('shop'), [DB]);
    await advance(60_000);
    expect(outcomes).toEqual(['retried', 'reported']);
    expect(sent).toEqual([expect.objectContaining({ lineCount: 2 })]);
  });

  it("caps each organization's open windows, so one tenant's flood leaves the others' reports alone", async () => {
    const sent: ReportExposureRequestJson[] = [];
    const { reporter, advance, outcomes } = reporterWith(async (report) => void sent.push(report));
    const hostile = (deploymentId: string): LogSource => ({
      scope: { organizationId: 'hostile', customerOrganizationId: null },
      deploymentId,
      redactedSubject: `logs.redacted.hostile._.${deploymentId}`,
    });
    for (let i = 0; i < MAX_OPEN_WINDOWS_PER_ORGANIZATION + 3; i++) reporter.seen(hostile(`d${i}`), [DB]);
    expect(outcomes).toEqual(['dropped', 'dropped', 'dropped']);
    reporter.seen(source('shop'), [DB]);
    await advance(60_000);
    expect(sent.filter((report) => report.organizationId === 'acme')).toEqual([
      expect.objectContaining({ deploymentId: 'shop', lineCount: 1 }),
    ]);
    expect(sent).toHaveLength(MAX_OPEN_WINDOWS_PER_ORGANIZATION + 1);
    // Its windows closed, the organization has its share again.
    reporter.seen(hostile('again'), [DB]);
    await advance(60_000);
    expect(sent.at(-1)).toEqual(expect.objectContaining({ organizationId: 'hostile', deploymentId: 'again' }));
  });

  it('sends what it gathered when stopped, and gathers nothing after', async () => {
    const sent: ReportExposureRequestJson[] = [];
    const { reporter } = reporterWith(async (report) => void sent.push(report));
    reporter.seen(source('shop'), [DB]);
    await reporter.stop();
    reporter.seen(source('shop'), [DB]);
    expect(sent).toEqual([expect.objectContaining({ deploymentId: 'shop', lineCount: 1 })]);
  });
});
