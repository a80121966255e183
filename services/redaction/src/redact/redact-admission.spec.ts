import { wireErrorOf } from '@platform/testing';
import { redactionErrorMapper } from '../redaction.error';
import { RedactAdmission, type RedactAdmissionLimits } from './redact-admission';

/** A request whose work runs until the test finishes it, recording when it started. */
class Requests {
  readonly started: string[] = [];
  private readonly finishers = new Map<string, () => void>();

  constructor(private readonly admission: RedactAdmission) {}

  send(organization: string, label: string): Promise<string> {
    return this.admission.run(organization, () => {
      this.started.push(label);
      return new Promise<string>((resolve) => this.finishers.set(label, () => resolve(label)));
    });
  }

  /** Finishes a running request and lets the admission serve whoever is next. */
  async finish(label: string): Promise<void> {
    const finisher = this.finishers.get(label);
    if (!finisher) throw new Error(`${label} is not running`);
    this.finishers.delete(label);
    finisher();
    await settle();
  }
}

/** Lets every pending promise continuation run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(limits: Partial<RedactAdmissionLimits> = {}) {
  const refusals = { count: 0 };
  const admission = new RedactAdmission(
    { maxInFlightPerOrganization: 2, maxInFlight: 8, maxQueuedPerOrganization: 3, ...limits },
    () => refusals.count++,
  );
  return { admission, requests: new Requests(admission), refusals };
}

const wireRefusal = (promise: Promise<unknown>) => wireErrorOf(promise, redactionErrorMapper);

describe('RedactAdmission', () => {
  it('runs an organization’s cap at once, queues a bounded number more and refuses the next with RESOURCE_EXHAUSTED', async () => {
    const { admission, requests, refusals } = setup();
    const admitted = ['a1', 'a2', 'a3', 'a4', 'a5'].map((label) => requests.send('acme', label));
    await settle();
    expect(requests.started).toEqual(['a1', 'a2']);
    expect({ inFlight: admission.inFlight(), queued: admission.queued() }).toEqual({ inFlight: 2, queued: 3 });

    expect(await wireRefusal(requests.send('acme', 'a6'))).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message:
        'too many redact requests from this organization: at most 2 in flight (REDACTION_MAX_IN_FLIGHT_PER_ORG) ' +
        'and 3 queued (REDACTION_MAX_QUEUED_PER_ORG); retry later',
    });
    expect(refusals.count).toBe(1);

    for (const label of ['a1', 'a2', 'a3', 'a4', 'a5']) await requests.finish(label);
    expect(await Promise.all(admitted)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(requests.started).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect({ inFlight: admission.inFlight(), queued: admission.queued() }).toEqual({ inFlight: 0, queued: 0 });
  });

  it('lets another organization run at once while one waits on its own cap', async () => {
    const { requests } = setup({ maxInFlightPerOrganization: 1 });
    void requests.send('acme', 'a1');
    void requests.send('acme', 'a2');
    void requests.send('globex', 'g1');
    await settle();
    expect(requests.started).toEqual(['a1', 'g1']);
  });

  it('refuses only the flooding organization', async () => {
    const { requests } = setup({ maxInFlightPerOrganization: 1, maxQueuedPerOrganization: 1 });
    void requests.send('acme', 'a1');
    void requests.send('acme', 'a2');
    expect((await wireRefusal(requests.send('acme', 'a3')))?.code).toBe('RESOURCE_EXHAUSTED');
    const other = requests.send('globex', 'g1');
    await settle();
    expect(requests.started).toEqual(['a1', 'g1']);
    await requests.finish('g1');
    expect(await other).toBe('g1');
  });

  it('serves organizations in turn when every place is taken, whatever their backlog', async () => {
    const { requests } = setup({ maxInFlightPerOrganization: 2, maxInFlight: 2, maxQueuedPerOrganization: 10 });
    for (const label of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6']) void requests.send('acme', label);
    void requests.send('globex', 'g1');
    void requests.send('globex', 'g2');
    void requests.send('initech', 'i1');
    await settle();
    expect(requests.started).toEqual(['a1', 'a2']);
    for (const label of ['a1', 'a2', 'a3', 'g1', 'i1', 'a4', 'g2']) await requests.finish(label);
    expect(requests.started).toEqual(['a1', 'a2', 'a3', 'g1', 'i1', 'a4', 'g2', 'a5', 'a6']);
  });

  it('frees the place of a request whose work failed', async () => {
    const { admission } = setup({ maxInFlightPerOrganization: 1, maxQueuedPerOrganization: 0 });
    await expect(admission.run('acme', () => Promise.reject(new Error('matcher build failed')))).rejects.toThrow(
      'matcher build failed',
    );
    expect(await admission.run('acme', () => Promise.resolve('next'))).toBe('next');
    expect(admission.inFlight()).toBe(0);
  });
});
