import { type ReplyRefusal, decryptWithReplyKey, encryptForReplyKey, replyKeyThumbprint } from '@platform/crypto';
import { type FakeResolveAnswer, fakeSecretsResolve, replySigningKeyPair } from '@platform/testing';
import { type Histogram } from 'prom-client';
import { ReplyKeys, ResolvedSecretValues, type ResolvedSecretValuesOptions, assertPinVersions } from './secret-values';

const pinned = replySigningKeyPair('reply-1');

/** Render's values from a secrets service answering `payload` as `answer` says (signed for the request by default). */
function secretsAnswering(
  payload: unknown,
  answer: Partial<FakeResolveAnswer> = {},
  options: Partial<ResolvedSecretValuesOptions> = {},
) {
  const refused: ReplyRefusal[] = [];
  const { client, calls } = fakeSecretsResolve(payload, { signer: pinned.signer, ...answer });
  const source = new ResolvedSecretValues(client, {
    replyKeys: new ReplyKeys(0),
    verifier: pinned.verifier,
    timeoutMs: 1000,
    refused: (reason) => refused.push(reason),
    ...options,
  });
  return { calls, refused, source };
}

/** A resolve timer counting the round trips it observed. */
function countingTimer(): { timer: Histogram; timed: () => number } {
  let timed = 0;
  return { timer: { startTimer: () => () => timed++ } as unknown as Histogram, timed: () => timed };
}

describe('ReplyKeys', () => {
  it('serves one pair for its maximum age, then a new one', async () => {
    let now = 10_000;
    const keys = new ReplyKeys(60_000, () => now);
    const first = await keys.pair('acme/');
    now += 59_999;
    expect(await keys.pair('acme/')).toBe(first);
    now += 1;
    const second = await keys.pair('acme/');
    expect(second.publicJwk).not.toEqual(first.publicJwk);
    const reply = await encryptForReplyKey(second.publicJwk, { values: {} });
    expect(await decryptWithReplyKey(second.privateKey, reply)).toEqual({ values: {} });
  });

  it('gives every resolve a fresh pair when the maximum age is 0', async () => {
    const keys = new ReplyKeys(0);
    const [a, b] = [await keys.pair('acme/'), await keys.pair('acme/')];
    expect(a.publicJwk).not.toEqual(b.publicJwk);
  });

  it('keeps one pair per tenant, and drops the least recently used beyond its bound', async () => {
    const keys = new ReplyKeys(60_000, Date.now, 2);
    const acme = await keys.pair('acme/');
    const globex = await keys.pair('acme/globex');
    expect(globex.publicJwk).not.toEqual(acme.publicJwk);
    expect(acme.thumbprint).toBe(replyKeyThumbprint(acme.publicJwk));
    expect(await keys.pair('acme/')).toBe(acme);
    await keys.pair('initech/');
    expect(await keys.pair('acme/')).toBe(acme);
    expect(await keys.pair('acme/globex')).not.toBe(globex);
  });

  it('a reused pair opens every reply of the sender, one after another', async () => {
    const { publicJwk, privateKey } = await new ReplyKeys(60_000).pair('acme/');
    for (const version of [1, 2, 3]) {
      const payload = { values: { API_KEY: { value: `value-${version}`, version, scope: 'vendor' } } };
      expect(await decryptWithReplyKey(privateKey, await encryptForReplyKey(publicJwk, payload))).toEqual(payload);
    }
  });
});

describe('ResolvedSecretValues', () => {
  const answering = (payload: unknown) => secretsAnswering(payload);
  const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

  it('sends the pins of the named keys only, whatever the keys are called', async () => {
    const { calls, source } = answering({ values: { toString: { value: 'v', version: 1, scope: 'vendor' } } });
    const resolved = await source.resolve(scope, ['toString', 'constructor', 'A'], { A: 2, B: 1 });
    expect(resolved.values).toEqual(new Map([['toString', { value: 'v', version: 1, scope: 'vendor' }]]));
    expect(calls.map((call) => call.body)).toEqual([
      expect.objectContaining({ keys: ['toString', 'constructor', 'A'], pins: { A: 2 } }),
    ]);
    expect(Object.keys(calls[0].body.pins as object)).toEqual(['A']);
  });

  it('asks for metadata only and reads version and scope', async () => {
    const { calls, source } = answering({ values: { A: { version: 3, scope: 'vendor' } }, history: [] });
    expect(await source.existing(scope, ['A', 'B'])).toEqual(new Map([['A', { version: 3, scope: 'vendor' }]]));
    expect(calls.map((call) => call.body)).toEqual([
      expect.objectContaining({ keys: ['A', 'B'], metadataOnly: true, pins: {} }),
    ]);
  });

  it('refuses a reply that carries a value', async () => {
    const { source } = answering({ values: { A: { value: 'leaked', version: 3, scope: 'vendor' } } });
    await expect(source.existing(scope, 'all')).rejects.toMatchObject({ code: 'SECRETS_FAILED' });
  });
});

describe('ResolvedSecretValues.resolve', () => {
  const answering = (payload: unknown) => secretsAnswering(payload);
  const customerValue = { values: { A: { value: 'a', version: 1, scope: 'customer' } }, history: [] };

  it("asks for the customer's own values only when the scope is customer-only", async () => {
    const { calls, source } = answering(customerValue);
    await source.resolve({ organizationId: 'acme', customerOrganizationId: 'globex', customerOnly: true }, ['A'], {});
    await source.resolve({ organizationId: 'acme', customerOrganizationId: 'globex' }, ['A'], {});
    expect(calls.map((call) => call.body.customerOnly)).toEqual([true, undefined]);
  });

  it('refuses a pin the secrets service could not hold, before asking it', async () => {
    const { calls, source } = answering(customerValue);
    const scope = { organizationId: 'acme', customerOrganizationId: null };
    await expect(source.resolve(scope, ['A'], { A: 4294967295 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'pins.A must be a version from 1 to 2147483647',
      details: { field: 'pins.A' },
    });
    expect(calls).toEqual([]);
    expect(() => assertPinVersions({ A: 1, B: 2147483647 })).not.toThrow();
    expect(() => assertPinVersions({ A: 0 })).toThrow('pins.A must be a version from 1 to 2147483647');
  });
});

describe('ResolvedSecretValues reply checks', () => {
  const payload = { values: { A: { value: 'a', version: 1, scope: 'customer' } }, history: [] };
  const scope = { organizationId: 'acme', customerOrganizationId: 'globex' };

  it("binds each request to the tenant's reply key with cnf.jkt and a fresh nonce", async () => {
    const { calls, source } = secretsAnswering(payload, {}, { replyKeys: new ReplyKeys(60_000) });
    await source.resolve(scope, ['A'], {});
    await source.resolve(scope, ['A'], {});
    await source.resolve({ organizationId: 'acme', customerOrganizationId: null }, ['A'], {});
    const requests = calls.map((call) => call.body);
    expect(calls.map((call) => call.options.claims)).toEqual(
      requests.map((request) => ({ cnf: { jkt: replyKeyThumbprint(request.replyKey) } })),
    );
    expect(requests[1].replyKey).toEqual(requests[0].replyKey);
    expect(requests[2].replyKey).not.toEqual(requests[0].replyKey);
    expect(new Set(requests.map((request) => request.nonce)).size).toBe(3);
  });

  it.each<[ReplyRefusal, Partial<FakeResolveAnswer>]>([
    ['signature', { signer: replySigningKeyPair('reply-1').signer }],
    ['organization', { forge: (binding) => ({ ...binding, organizationId: 'initech' }) }],
    ['customer', { forge: (binding) => ({ ...binding, customerOrganizationId: null }) }],
    ['nonce', { forge: (binding) => ({ ...binding, nonce: 'A'.repeat(22) }) }],
  ])('refuses and counts a reply failing the %s check: UNAVAILABLE, no value', async (reason, answer) => {
    const { refused, source } = secretsAnswering(payload, answer);
    await expect(source.resolve(scope, ['A'], {})).rejects.toMatchObject({
      code: 'SECRETS_UNAVAILABLE',
      message: 'a secrets service reply failed its authenticity checks; retry later',
    });
    await expect(source.existing(scope, ['A'])).rejects.toMatchObject({ code: 'SECRETS_UNAVAILABLE' });
    expect(refused).toEqual([reason, reason]);
  });

  it('refuses an unsigned reply', async () => {
    const { refused, source } = secretsAnswering(payload, { signer: null });
    await expect(source.resolve(scope, ['A'], {})).rejects.toMatchObject({ code: 'SECRETS_UNAVAILABLE' });
    expect(refused).toEqual(['malformed']);
  });

  it('fails a signed reply it cannot decrypt SECRETS_FAILED, timed as a completed round trip', async () => {
    const { timer, timed } = countingTimer();
    const { source } = secretsAnswering(payload, { ciphertext: 'not-a-jwe' }, { timer });
    await expect(source.resolve(scope, ['A'], {})).rejects.toMatchObject({
      code: 'SECRETS_FAILED',
      message: 'the secrets service sent a reply render cannot read',
    });
    expect(timed()).toBe(1);
  });

  it('times a resolve whose reply is used, and none that is refused', async () => {
    const { timer, timed } = countingTimer();
    const refusing = secretsAnswering(
      payload,
      { forge: (binding) => ({ ...binding, nonce: 'A'.repeat(22) }) },
      { timer },
    );
    await expect(refusing.source.resolve(scope, ['A'], {})).rejects.toMatchObject({ code: 'SECRETS_UNAVAILABLE' });
    expect(timed()).toBe(0);
    await secretsAnswering(payload, {}, { timer }).source.resolve(scope, ['A'], {});
    expect(timed()).toBe(1);
  });
});
