import { decryptWithReplyKey, encryptForReplyKey } from '@platform/crypto';
import { type ServiceClient } from '@platform/messaging';
import { ReplyKeys, ResolvedSecretValues, assertPinVersions } from './secret-values';

describe('ReplyKeys', () => {
  it('serves one pair for its maximum age, then a new one', async () => {
    let now = 10_000;
    const keys = new ReplyKeys(60_000, () => now);
    const first = await keys.pair();
    now += 59_999;
    expect(await keys.pair()).toBe(first);
    now += 1;
    const second = await keys.pair();
    expect(second.publicJwk).not.toEqual(first.publicJwk);
    const reply = await encryptForReplyKey(second.publicJwk, { values: {} });
    expect(await decryptWithReplyKey(second.privateKey, reply)).toEqual({ values: {} });
  });

  it('gives every resolve a fresh pair when the maximum age is 0', async () => {
    const keys = new ReplyKeys(0);
    const [a, b] = [await keys.pair(), await keys.pair()];
    expect(a.publicJwk).not.toEqual(b.publicJwk);
  });

  it('a reused pair opens every reply of the sender, one after another', async () => {
    const { publicJwk, privateKey } = await new ReplyKeys(60_000).pair();
    for (const version of [1, 2, 3]) {
      const payload = { values: { API_KEY: { value: `value-${version}`, version, scope: 'vendor' } } };
      expect(await decryptWithReplyKey(privateKey, await encryptForReplyKey(publicJwk, payload))).toEqual(payload);
    }
  });
});

describe('ResolvedSecretValues', () => {
  /** A secrets service that answers every resolve with `payload`, encrypted to the request's reply key. */
  function answering(payload: unknown) {
    const requests: Record<string, unknown>[] = [];
    const client = {
      request: async (_subject: string, body: Record<string, unknown>) => {
        requests.push(body);
        return { ciphertext: await encryptForReplyKey(body.replyKey, payload), missing: [] };
      },
    } as unknown as ServiceClient;
    return { requests, source: new ResolvedSecretValues(client, new ReplyKeys(0), 1000) };
  }
  const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

  it('sends the pins of the named keys only, whatever the keys are called', async () => {
    const { requests, source } = answering({ values: { toString: { value: 'v', version: 1, scope: 'vendor' } } });
    const resolved = await source.resolve(scope, ['toString', 'constructor', 'A'], { A: 2, B: 1 });
    expect(resolved.values).toEqual(new Map([['toString', { value: 'v', version: 1, scope: 'vendor' }]]));
    expect(requests).toEqual([expect.objectContaining({ keys: ['toString', 'constructor', 'A'], pins: { A: 2 } })]);
    expect(Object.keys(requests[0].pins as object)).toEqual(['A']);
  });

  it('asks for metadata only and reads version and scope', async () => {
    const { requests, source } = answering({ values: { A: { version: 3, scope: 'vendor' } }, history: [] });
    expect(await source.existing(scope, ['A', 'B'])).toEqual(new Map([['A', { version: 3, scope: 'vendor' }]]));
    expect(requests).toEqual([expect.objectContaining({ keys: ['A', 'B'], metadataOnly: true, pins: {} })]);
  });

  it('refuses a reply that carries a value', async () => {
    const { source } = answering({ values: { A: { value: 'leaked', version: 3, scope: 'vendor' } } });
    await expect(source.existing(scope, 'all')).rejects.toMatchObject({ code: 'SECRETS_FAILED' });
  });
});

describe('ResolvedSecretValues.resolve', () => {
  function answering(payload: unknown) {
    const requests: Record<string, unknown>[] = [];
    const client = {
      request: async (_subject: string, body: Record<string, unknown>) => {
        requests.push(body);
        return { ciphertext: await encryptForReplyKey(body.replyKey, payload), missing: [] };
      },
    } as unknown as ServiceClient;
    return { requests, source: new ResolvedSecretValues(client, new ReplyKeys(0), 1000) };
  }
  const customerValue = { values: { A: { value: 'a', version: 1, scope: 'customer' } }, history: [] };

  it("asks for the customer's own values only when the scope is customer-only", async () => {
    const { requests, source } = answering(customerValue);
    await source.resolve({ organizationId: 'acme', customerOrganizationId: 'globex', customerOnly: true }, ['A'], {});
    await source.resolve({ organizationId: 'acme', customerOrganizationId: 'globex' }, ['A'], {});
    expect(requests.map((request) => request.customerOnly)).toEqual([true, undefined]);
  });

  it('refuses a pin the secrets service could not hold, before asking it', async () => {
    const { requests, source } = answering(customerValue);
    const scope = { organizationId: 'acme', customerOrganizationId: null };
    await expect(source.resolve(scope, ['A'], { A: 4294967295 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'pins.A must be a version from 1 to 2147483647',
      details: { field: 'pins.A' },
    });
    expect(requests).toEqual([]);
    expect(() => assertPinVersions({ A: 1, B: 2147483647 })).not.toThrow();
    expect(() => assertPinVersions({ A: 0 })).toThrow('pins.A must be a version from 1 to 2147483647');
  });
});
