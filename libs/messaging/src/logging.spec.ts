import { Writable } from 'node:stream';
import { SCRUBBED, createLogger, scrubLogObject, scrubText } from './logging';

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

  it('keeps fields named like prototype properties as fields', () => {
    const logged = JSON.parse('{"__proto__":{"value":"x","key":"A"},"toString":{"token":"y"},"constructor":"c"}');
    const scrubbed = scrubLogObject(logged) as Record<string, unknown>;
    expect(Object.getPrototypeOf(scrubbed)).toBeNull();
    expect(JSON.parse(JSON.stringify(scrubbed))).toEqual(
      JSON.parse(
        `{"__proto__":{"value":"${SCRUBBED}","key":"A"},"toString":{"token":"${SCRUBBED}"},"constructor":"c"}`,
      ),
    );
  });

  it('summarises binary payloads instead of printing them', () => {
    expect(scrubLogObject({ payload: new TextEncoder().encode(secret) })).toEqual({
      payload: `[${secret.length} bytes]`,
    });
  });

  it('writes an error as class, code and frames, never its message or the stack line that repeats it', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('secrets', 'info', stream);
    const failure = Object.assign(new Error(`duplicate key value (${secret})`), { code: '23505' });
    failure.cause = new RangeError(`out of range: ${secret}`);
    logger.error({ err: failure }, 'append failed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.join('')).not.toContain(secret);
    const { err } = JSON.parse(lines[0]) as { err: { type: string; code: string; frames: string[]; cause: unknown } };
    expect(err).toMatchObject({ type: 'Error', code: '23505', cause: { type: 'RangeError' } });
    expect(err.frames[0]).toMatch(/^at .*logging\.spec/);
  });

  it('scrubs credentials and key material from the message and from any text field', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('render', 'debug', stream);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const jwe = 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdi1pdml2.Y2lwaGVydGV4dA.dGFndGFn';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    logger.debug(`calling with Bearer ${secret} and ${jwt}`);
    logger.info({ note: `reply ${jwe}`, nested: { pem } }, `key ${pem}`);
    await new Promise((resolve) => setImmediate(resolve));
    const output = lines.join('');
    for (const material of [secret, jwt, jwe, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'])
      expect(output).not.toContain(material);
    expect(JSON.parse(lines[0])).toMatchObject({ msg: `calling with ${SCRUBBED} and ${SCRUBBED}` });
    expect(JSON.parse(lines[1])).toMatchObject({ msg: `key ${SCRUBBED}`, note: `reply ${SCRUBBED}` });
  });

  it('leaves ordinary text alone', () => {
    expect(scrubText('secret API_KEY updated to version 3 by admin@acme')).toBe(
      'secret API_KEY updated to version 3 by admin@acme',
    );
  });
});
