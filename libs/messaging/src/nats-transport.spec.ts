import { DEFAULT_REPLY_PREFIXES } from '@platform/config';
import { isInboxReply } from './nats-transport';

describe('isInboxReply', () => {
  it("takes nats.js's default inbox and per-user inboxes", () => {
    expect(isInboxReply('_INBOX.abc.1', DEFAULT_REPLY_PREFIXES)).toBe(true);
    expect(isInboxReply('_INBOX_client.abc.1', DEFAULT_REPLY_PREFIXES)).toBe(true);
  });

  it('refuses stream subjects, JetStream API subjects, other subjects, a bare prefix and no reply at all', () => {
    for (const reply of [
      'secrets.events.acme.X',
      'logs.redacted.acme._.web',
      '$JS.API.STREAM.PURGE.SECRETS_EVENTS',
      'x._INBOX.abc',
      '_INBOX.',
      '_INBOX',
      '',
      undefined,
    ]) {
      expect([reply, isInboxReply(reply, DEFAULT_REPLY_PREFIXES)]).toEqual([reply, false]);
    }
  });

  it('takes only the configured prefixes', () => {
    expect(isInboxReply('_INBOX_client.abc', ['_INBOX_render.'])).toBe(false);
    expect(isInboxReply('_INBOX_render.abc', ['_INBOX_render.'])).toBe(true);
  });
});
