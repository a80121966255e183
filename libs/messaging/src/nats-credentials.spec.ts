import { inboxPrefixOf, natsCredentials } from './nats-credentials';

describe('NATS credentials', () => {
  it('gives a user its own reply-inbox prefix, and keeps nats.js defaults without a user', () => {
    expect(natsCredentials('render', 'pw')).toEqual({ user: 'render', pass: 'pw', inboxPrefix: '_INBOX_render' });
    expect(natsCredentials('', 'pw')).toEqual({});
    expect(natsCredentials(undefined, undefined)).toEqual({});
  });

  it('turns characters that are not safe in one subject token into _', () => {
    expect(inboxPrefixOf('team.a>*')).toBe('_INBOX_team_a__');
    expect(inboxPrefixOf('ops-eu_1')).toBe('_INBOX_ops-eu_1');
  });
});
