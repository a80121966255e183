import { SECRET_EXPIRED, SECRET_EXPIRING, dueNotices, expiryStreamId } from './expiry-notice';

const HOUR = 60 * 60_000;
const expiresAt = new Date('2026-06-01T00:00:00.000Z');
const at = (offsetMs: number) => new Date(expiresAt.getTime() + offsetMs);

describe('dueNotices', () => {
  it.each([
    ['before the lead time', 0, -25 * HOUR, []],
    ['at the start of the lead time', 0, -24 * HOUR, [SECRET_EXPIRING]],
    ['inside the lead time, Expiring sent', 1, -HOUR, []],
    ['at the expiry, Expiring sent', 1, 0, [SECRET_EXPIRED]],
    ['past the expiry with nothing sent: both, in order', 0, HOUR, [SECRET_EXPIRING, SECRET_EXPIRED]],
    ['past the expiry with both sent', 2, 100 * HOUR, []],
  ] as const)('%s', (_label, sent, offset, owed) => {
    expect(dueNotices(expiresAt, sent, at(offset), 24 * HOUR)).toEqual(owed);
  });

  it('with no lead time, Expiring comes with Expired', () => {
    expect(dueNotices(expiresAt, 0, at(-1), 0)).toEqual([]);
    expect(dueNotices(expiresAt, 0, at(0), 0)).toEqual([SECRET_EXPIRING, SECRET_EXPIRED]);
  });
});

describe('expiryStreamId', () => {
  it('names one stream per version of one secret in one scope', () => {
    expect(expiryStreamId({ organizationId: 'acme', customerOrganizationId: null }, 'API_KEY', 3)).toBe(
      'expiry:acme:_:API_KEY:3',
    );
    expect(expiryStreamId({ organizationId: 'acme', customerOrganizationId: 'globex' }, 'API_KEY', 3)).toBe(
      'expiry:acme:globex:API_KEY:3',
    );
  });
});
