import { Registry } from 'prom-client';
import { type Principal } from '@platform/messaging';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { wireErrorOf } from '@platform/testing';
import { redactionErrorMapper } from '../redaction.error';
import { RedactionMetrics } from '../redaction.metrics';
import { RedactAdmission } from './redact-admission';
import { RequestBarrier, TextLimit, TextRedaction } from './text-redaction';

const vendorUser: Principal = { sub: 'u', org: 'acme', orgType: 'vendor', role: 'read_write' };

const request = (text: string) => ({ $typeName: 'redaction.v1.RedactRequest' as const, text });

const ADMISSION = { maxInFlightPerOrganization: 1, maxInFlight: 8, maxQueuedPerOrganization: 0 };

function setup(down = false, changesApplied: (matchers: ScopeMatchers) => Promise<void> = async () => undefined) {
  const values = ['vendor-secret'];
  const matchers = new ScopeMatchers({
    source: {
      valuesOf: async () => {
        if (down) throw new Error('secrets service is unavailable');
        return [...values];
      },
    },
    minLength: 4,
    maxAgeMs: 60_000,
  });
  const barrier = new RequestBarrier(0, () => changesApplied(matchers));
  const admission = new RedactAdmission(ADMISSION);
  const metrics = new RedactionMetrics(new Registry());
  return { redaction: new TextRedaction(matchers, metrics, barrier, admission, new TextLimit(64 * 1024)), values };
}

const wireRefusal = (promise: Promise<unknown>) => wireErrorOf(promise, redactionErrorMapper);

describe('TextRedaction', () => {
  it('masks the scope’s values and counts the masks', async () => {
    expect(
      await setup().redaction.redact(vendorUser, {
        $typeName: 'redaction.v1.RedactRequest',
        text: 'x vendor-secret y',
      }),
    ).toEqual({ text: 'x ******** y', redactions: 1 });
  });

  it('refuses a text over REDACTION_MAX_TEXT_BYTES with PAYLOAD_TOO_LARGE, counting UTF-8 bytes', async () => {
    const { redaction } = setup();
    expect(await redaction.redact(vendorUser, request('x'.repeat(64 * 1024)))).toEqual({
      text: 'x'.repeat(64 * 1024),
      redactions: 0,
    });
    expect(await wireRefusal(redaction.redact(vendorUser, request('é'.repeat(32 * 1024 + 1))))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'text must be at most 64 KiB (REDACTION_MAX_TEXT_BYTES); ship longer logs on logs.raw',
    });
  });

  it('answers UNAVAILABLE, without internals, when the scope’s values cannot be loaded', async () => {
    expect(
      await wireRefusal(
        setup(true).redaction.redact(vendorUser, { $typeName: 'redaction.v1.RedactRequest', text: 'x' }),
      ),
    ).toEqual({ code: 'UNAVAILABLE', message: 'the secrets of this scope cannot be loaded right now; retry later' });
  });

  it('takes the matcher only after the secret changes already published were applied, as a log line does', async () => {
    let pending = false;
    const { redaction, values } = setup(false, async (matchers) => {
      // The SECRETS_EVENTS listener catching up: a change it had not applied yet invalidates the cached matcher.
      if (pending) matchers.invalidateOrganization('acme');
      pending = false;
    });
    expect(await redaction.redact(vendorUser, request('x vendor-secret y'))).toEqual({
      text: 'x ******** y',
      redactions: 1,
    });
    values.push('written-just-before');
    pending = true;
    expect(await redaction.redact(vendorUser, request('x written-just-before y'))).toEqual({
      text: 'x ******** y',
      redactions: 1,
    });
  });

  it('answers UNAVAILABLE when the secret changes cannot be confirmed applied in time', async () => {
    const { redaction } = setup(false, () => Promise.reject(new Error('SECRETS_EVENTS listener is behind the stream')));
    expect(await wireRefusal(redaction.redact(vendorUser, request('x vendor-secret y')))).toEqual({
      code: 'UNAVAILABLE',
      message: 'the secrets of this scope cannot be loaded right now; retry later',
    });
  });

  it('takes turns by the calling organization, not the one it names', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { redaction } = setup(false, () => held);
    const deployer: Principal = {
      sub: 'service:deploy',
      org: 'deploy',
      orgType: 'service',
      scopes: new Set(['redaction:redact']),
    };
    const first = redaction.redact(deployer, { ...request('x vendor-secret y'), organizationId: 'acme' });
    expect(await wireRefusal(redaction.redact(deployer, { ...request('x'), organizationId: 'umbrella' }))).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      message:
        'too many redact requests from this organization: at most 1 in flight (REDACTION_MAX_IN_FLIGHT_PER_ORG) ' +
        'and 0 queued (REDACTION_MAX_QUEUED_PER_ORG); retry later',
    });
    release();
    expect(await first).toEqual({ text: 'x ******** y', redactions: 1 });
  });
});
