import { MsgHdrsImpl, headers as natsHeaders } from 'nats';
import { buildMatcher } from '@platform/redaction';
import { logSourceOf, redactedHeaders, redactedMessageId } from './log-message';

const mask = (secret: string) => (text: string) => {
  const parts = text.split(secret);
  return { output: parts.join('********'), count: parts.length - 1 };
};

describe('logSourceOf', () => {
  it('reads the scope and deployment of a vendor-level line and keeps the tail for the redacted subject', () => {
    expect(logSourceOf('t1.logs.raw.acme._.web-1', 't1.')).toEqual({
      scope: { organizationId: 'acme', customerOrganizationId: null },
      deploymentId: 'web-1',
      redactedSubject: 't1.logs.redacted.acme._.web-1',
    });
  });

  it('reads a customer line with extra tokens after the deployment', () => {
    expect(logSourceOf('logs.raw.acme.globex.api.pod-7.stderr', '')).toEqual({
      scope: { organizationId: 'acme', customerOrganizationId: 'globex' },
      deploymentId: 'api',
      redactedSubject: 'logs.redacted.acme.globex.api.pod-7.stderr',
    });
  });

  it.each([
    ['too few tokens', 'logs.raw.acme._'],
    ['no customer token', 'logs.raw.acme'],
    ['organization "_"', 'logs.raw._._.web'],
    ['organization starting with "-"', 'logs.raw.-acme._.web'],
    ['customer with a bad character', 'logs.raw.acme.glo$ex.web'],
    ['deployment "_"', 'logs.raw.acme._._'],
    ['deployment longer than 64', `logs.raw.acme._.${'d'.repeat(65)}`],
    ['another prefix', 't2.logs.raw.acme._.web'],
    ['another root', 't1.logs.redacted.acme._.web'],
  ])('refuses %s', (_, subject) => {
    expect(logSourceOf(subject, 't1.')).toBeUndefined();
  });
});

describe('redactedHeaders', () => {
  it('keeps the shipper headers, redacts their values and counts body and header masks together', () => {
    const original = natsHeaders();
    original.set('X-Shipper', 'fluent-bit');
    original.append('X-Trace', 'a');
    original.append('X-Trace', 'token=hunter22');
    const { headers, count } = redactedHeaders(original, 2, mask('hunter22'));
    expect(headers.get('X-Shipper')).toBe('fluent-bit');
    expect(headers.values('X-Trace')).toEqual(['a', 'token=********']);
    expect(headers.get('Redacted-Count')).toBe('3');
    expect(count).toBe(3);
  });

  it('drops JetStream directives and a forged Redacted-Count', () => {
    const original = natsHeaders();
    original.set('Nats-Msg-Id', 'shipper-1');
    original.set('Nats-Expected-Last-Sequence', '7');
    original.set('Redacted-Count', '99');
    const { headers } = redactedHeaders(original, 0, mask('x'));
    expect(headers.keys().sort()).toEqual(['Redacted-Count']);
    expect(headers.get('Redacted-Count')).toBe('0');
  });

  it('masks a header name that carries a value, as its values are, and counts it', () => {
    const matcher = buildMatcher(['s3cr:t-value', 'hunter22']);
    const original = natsHeaders();
    original.set('X-Tenant-s3cr%3At-value', 'ok');
    original.set('hunter22', 'token=hunter22');
    original.set('X-Shipper', 'fluent-bit');
    const { headers, count } = redactedHeaders(original, 0, (text) => matcher.redactText(text));
    expect(headers.keys().sort()).toEqual(['********', 'Redacted-Count', 'X-Shipper', 'X-Tenant-********']);
    expect(headers.get('X-Tenant-********')).toBe('ok');
    expect(headers.get('********')).toBe('token=********');
    expect(count).toBe(3);
    // The copy is a well-formed NATS header block that reads back the same.
    expect(headers).toBeInstanceOf(MsgHdrsImpl);
    const wire = (headers as MsgHdrsImpl).encode();
    expect(Buffer.from(wire).toString('latin1')).not.toMatch(/s3cr|hunter22/);
    const read = MsgHdrsImpl.decode(wire);
    expect(read.keys().sort()).toEqual(headers.keys().sort());
    expect(read.get('X-Tenant-********')).toBe('ok');
  });

  it('keeps every value of names that become equal once masked', () => {
    const matcher = buildMatcher(['alpha-secret', 'bravo-secret']);
    const original = natsHeaders();
    original.append('X-alpha-secret', 'one');
    original.append('X-alpha-secret', 'two');
    original.append('X-bravo-secret', 'three');
    original.append('X-********', 'four');
    const { headers, count } = redactedHeaders(original, 0, (text) => matcher.redactText(text));
    expect(headers.values('X-********')).toEqual(['one', 'two', 'three', 'four']);
    expect(count).toBe(2);
  });

  it('adds Redacted-Count to a message without headers', () => {
    expect(redactedHeaders(undefined, 0, mask('x')).headers.get('Redacted-Count')).toBe('0');
  });
});

describe('redactedMessageId', () => {
  it('is the same for a redelivery of one raw message and differs between messages', () => {
    expect(redactedMessageId(42)).toBe(redactedMessageId(42));
    expect(redactedMessageId(42)).not.toBe(redactedMessageId(43));
  });
});
