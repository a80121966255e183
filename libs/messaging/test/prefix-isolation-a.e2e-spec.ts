// Prefix isolation (issue 2), side A: runs beside prefix-isolation-b.e2e-spec.ts in another jest worker, on the same
// NATS server and subject under another prefix; see prefix-isolation-probe.ts.
import { expectIsolated, runIsolationProbe } from './prefix-isolation-probe';

describe('prefix isolation between parallel test files (side A)', () => {
  it('handles only its own requests and gets only its own replies while the other file runs', async () => {
    const run = await runIsolationProbe('a');
    expectIsolated(run);
    // With more than one jest worker the other side runs at the same time: its traffic went by, and none reached us.
    if (process.env.PREFIX_ISOLATION_PAIRED === '1') expect(run.othersSeen).toBeGreaterThan(0);
  }, 30_000);
});
