import { Registry } from 'prom-client';
import { type Principal } from '@platform/messaging';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { RedactionServiceError, redactionErrorMapper } from '../redaction.error';
import { RedactionMetrics } from '../redaction.metrics';
import { RequestSettle, TextRedaction } from './text-redaction';

const vendorUser: Principal = { sub: 'u', org: 'acme', orgType: 'vendor', role: 'read_only' };

function setup(down = false) {
  const matchers = new ScopeMatchers({
    source: {
      valuesOf: async () => {
        if (down) throw new Error('secrets service is unavailable');
        return ['vendor-secret'];
      },
    },
    minLength: 4,
    maxAgeMs: 60_000,
  });
  return new TextRedaction(matchers, new RedactionMetrics(new Registry()), new RequestSettle(0));
}

async function wireRefusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RedactionServiceError) return redactionErrorMapper(error);
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('TextRedaction', () => {
  it('masks the scope’s values and counts the masks', async () => {
    expect(
      await setup().redact(vendorUser, { $typeName: 'redaction.v1.RedactRequest', text: 'x vendor-secret y' }),
    ).toEqual({ text: 'x ******** y', redactions: 1 });
  });

  it('refuses a text over 1 MiB with PAYLOAD_TOO_LARGE', async () => {
    const text = 'é'.repeat(512 * 1024 + 1);
    expect(await wireRefusal(setup().redact(vendorUser, { $typeName: 'redaction.v1.RedactRequest', text }))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'text must be at most 1 MiB',
    });
  });

  it('answers UNAVAILABLE, without internals, when the scope’s values cannot be loaded', async () => {
    expect(
      await wireRefusal(setup(true).redact(vendorUser, { $typeName: 'redaction.v1.RedactRequest', text: 'x' })),
    ).toEqual({ code: 'UNAVAILABLE', message: 'the secrets of this scope cannot be loaded right now; retry later' });
  });
});
