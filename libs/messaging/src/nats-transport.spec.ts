import { DEFAULT_REPLY_PREFIXES } from '@platform/config';
import { ERROR_CODE_HEADER, JsonReplySerializer, isInboxReply } from './nats-transport';

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

describe('JsonReplySerializer', () => {
  const decoded = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as unknown;

  it('answers PAYLOAD_TOO_LARGE, with the sizes, for a reply the server could not carry', () => {
    const serializer = new JsonReplySerializer(() => 4096);
    const small = serializer.serialize({ response: { output: 'x'.repeat(100) } });
    expect(small.headers).toBeUndefined();
    expect(decoded(small.data)).toEqual({ output: 'x'.repeat(100) });
    const large = serializer.serialize({ response: { output: 'x'.repeat(4000) } });
    expect(large.headers?.get(ERROR_CODE_HEADER)).toBe('413');
    expect(decoded(large.data)).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'the reply is 4013 bytes, more than the 3072 bytes a NATS message can carry here',
        details: { sizeBytes: 4013, limitBytes: 3072 },
      },
    });
    expect(large.data.byteLength).toBeLessThan(4096);
  });
});
