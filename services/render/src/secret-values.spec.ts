import { decryptWithReplyKey, encryptForReplyKey } from '@platform/crypto';
import { ReplyKeys } from './secret-values';

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
