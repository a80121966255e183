import { Writable } from 'node:stream';
import { SCRUBBED, createLogger, scrubLogObject } from './logging';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('logger scrubbing', () => {
  const secret = 'sk_live_4fA9-distinctive-value';

  it('replaces fields that carry secret values at any depth', () => {
    const scrubbed = scrubLogObject({
      key: 'API_KEY',
      value: secret,
      request: { body: { values: { API_KEY: { value: secret } } }, headers: { Authorization: `Bearer ${secret}` } },
      list: [{ plaintext: secret }, { token: secret }],
    });
    expect(JSON.stringify(scrubbed)).not.toContain(secret);
    expect(scrubbed).toMatchObject({
      key: 'API_KEY',
      value: SCRUBBED,
      list: [{ plaintext: SCRUBBED }, { token: SCRUBBED }],
    });
  });

  it('never writes a secret value through the service logger', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('secrets', 'info', stream);
    logger.info({ key: 'DB_PASSWORD', value: secret, nested: { ciphertext: secret, jwe: secret } }, 'secret updated');
    logger.error({ err: new Error('boom'), replyKey: { d: secret } }, 'failed');
    await new Promise((resolve) => setImmediate(resolve));
    const output = lines.join('');
    expect(lines).toHaveLength(2);
    expect(output).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({
      service: 'secrets',
      level: 'info',
      key: 'DB_PASSWORD',
      msg: 'secret updated',
    });
  });

  it('summarises binary payloads instead of printing them', () => {
    expect(scrubLogObject({ payload: new TextEncoder().encode(secret) })).toEqual({
      payload: `[${secret.length} bytes]`,
    });
  });
});
