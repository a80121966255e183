// Issue 15, class 8: a log shipper puts a secret in a header NAME (`X-Tenant-<value>: ok`). The pipeline masked header
// values only, so the name reached LOGS as it came. Shipped on logs.raw.<org>.<customer|_>.<deployment>, read from LOGS.
import { randomBytes } from 'node:crypto';
import { type MsgHdrs, type StoredMsg, headers as natsHeaders } from 'nats';
import { prefixedStreamName } from '@platform/messaging';
import { type TestNatsClient, eventuallyValue } from '@platform/testing';
import { type SecretsAndRedaction, startSecretsAndRedaction } from './support/secrets-and-redaction';

const MASK = '********';
const run = randomBytes(3).toString('hex');
const VENDOR = `acme${run}`;
const CUSTOMER = `globex${run}`;
/** Values made of header-name characters, so a shipper can put them in a name. */
const VENDOR_VALUE = `vendorHdr-${randomBytes(8).toString('hex')}`;
const CUSTOMER_VALUE = `customerHdr-${randomBytes(8).toString('hex')}`;

/** The shipper-visible header block as a list, names exactly as stored (`Nats-*` are JetStream's own). */
function headerList(headers: MsgHdrs | undefined): Array<[string, string[]]> {
  const list: Array<[string, string[]]> = headers ? [...headers].map(([name, values]) => [name, [...values]]) : [];
  return list.filter(([name]) => !name.startsWith('Nats-'));
}

describe('header names of log messages are masked like their values', () => {
  let platform: SecretsAndRedaction;
  let prefix: string;
  let client: TestNatsClient;

  /** Ships one raw line and returns its redacted copy as LOGS stores it. */
  async function shipAndRead(tail: string, body: string, headers: Array<[string, string]>): Promise<StoredMsg> {
    const h = natsHeaders();
    for (const [name, value] of headers) h.append(name, value);
    await client.connection.jetstream().publish(`${prefix}logs.raw.${tail}`, Buffer.from(body), { headers: h });
    const manager = await client.connection.jetstreamManager();
    const query = { last_by_subj: `${prefix}logs.redacted.${tail}` };
    return eventuallyValue(
      `the redacted copy of the line on ${tail} in LOGS`,
      () => manager.streams.getMessage(prefixedStreamName(prefix, 'LOGS'), query).catch(() => undefined),
      (stored) => stored !== undefined,
    ) as Promise<StoredMsg>;
  }

  beforeAll(async () => {
    platform = await startSecretsAndRedaction();
    client = platform.client;
    prefix = platform.prefix;
    const admin = await platform.tokens.vendor(VENDOR, 'admin');
    for (const body of [
      { key: 'HEADER_SECRET', value: VENDOR_VALUE },
      { key: 'HEADER_SECRET', value: CUSTOMER_VALUE, customerOrganizationId: CUSTOMER },
    ]) {
      expect((await client.request('secrets.v1.create', body, { token: admin })).status).toBeUndefined();
    }
  });

  afterAll(() => platform?.close());

  it('masks a vendor-level value in a header name and keeps the header and its value', async () => {
    const stored = await shipAndRead(`${VENDOR}._.web-1`, 'line-1 started', [
      [`X-Tenant-${VENDOR_VALUE}`, 'ok'],
      ['X-Shipper', 'fluent-bit'],
    ]);
    expect(stored.string()).toBe('line-1 started');
    expect(headerList(stored.header)).toEqual([
      [`X-Tenant-${MASK}`, ['ok']],
      ['X-Shipper', ['fluent-bit']],
      ['Redacted-Count', ['1']],
    ]);
  });

  it('masks names and values of a customer line, and keeps every value of names that collide once masked', async () => {
    const stored = await shipAndRead(`${VENDOR}.${CUSTOMER}.web-2.stdout`, `line-2 ${CUSTOMER_VALUE}`, [
      [`X-${VENDOR_VALUE}`, 'first'],
      [`X-${CUSTOMER_VALUE}`, `second ${VENDOR_VALUE}`],
      [CUSTOMER_VALUE, 'third'],
    ]);
    expect(stored.string()).toBe(`line-2 ${MASK}`);
    expect(headerList(stored.header)).toEqual([
      [`X-${MASK}`, ['first', `second ${MASK}`]],
      [MASK, ['third']],
      ['Redacted-Count', ['5']],
    ]);
  });

  it('stores no value anywhere in LOGS', async () => {
    const manager = await client.connection.jetstreamManager();
    const stream = prefixedStreamName(prefix, 'LOGS');
    const { first_seq: first, last_seq: last } = (await manager.streams.info(stream)).state;
    expect(last - first + 1).toBe(2);
    const stored: string[] = [];
    for (let seq = first; seq <= last; seq++) {
      const message = await manager.streams.getMessage(stream, { seq });
      stored.push(message.subject, message.string(), JSON.stringify([...message.header]));
    }
    for (const value of [VENDOR_VALUE, CUSTOMER_VALUE]) expect(stored.join('\n')).not.toContain(value);
  });
});
