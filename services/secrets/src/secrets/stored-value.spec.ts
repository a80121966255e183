import { randomBytes } from 'node:crypto';
import { CryptoErrorCode, DataKeyRing, InMemoryDataKeyStore, MasterKeyRing } from '@platform/crypto';
import { SecretsError, SecretsErrorCode } from './secrets.error';
import { type StoredValue, integrityReasonOf, openStoredValue, placeOf } from './stored-value';

const VALUE = 'correct horse battery staple';
const EVENT = '7a1c9e0b-3d4f-4b6a-8c2e-1f0a9b8c7d6e';

async function ringAndValue(version = 2) {
  const master = await MasterKeyRing.fromJwks({
    keys: [{ kty: 'oct', kid: 'm1', k: randomBytes(32).toString('base64url') }],
  });
  const ring = new DataKeyRing(master, new InMemoryDataKeyStore());
  const row = { organizationId: 'acme', customerId: 'globex', key: 'API_KEY', version, eventId: EVENT };
  const sealed = await ring.encryptValue(placeOf({ ...row, value: '', digest: null }), VALUE);
  const stored: StoredValue = { ...row, value: sealed.jwe, digest: sealed.digest };
  return { ring, stored };
}

async function refusal(promise: Promise<unknown>): Promise<SecretsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SecretsError);
  expect((error as Error).message).not.toContain(VALUE);
  return error as SecretsError;
}

describe('openStoredValue', () => {
  it('names the place by the row: its organization, customer and key make the stream id', () => {
    const place = placeOf({
      organizationId: 'acme',
      customerId: '',
      key: 'K',
      version: 3,
      eventId: EVENT,
      value: '',
      digest: null,
    });
    expect(place).toEqual({
      organizationId: 'acme',
      customerOrganizationId: null,
      streamId: 'secret:acme:_:K',
      version: 3,
      eventId: EVENT,
    });
  });

  it('decrypts a value read from the place it was sealed for', async () => {
    const { ring, stored } = await ringAndValue();
    expect(await openStoredValue(ring, stored)).toBe(VALUE);
  });

  it('withholds a row whose ciphertext is not the one its event recorded', async () => {
    const { ring, stored } = await ringAndValue();
    const other = await ringAndValue();
    const error = await refusal(openStoredValue(ring, { ...stored, value: other.stored.value }));
    expect([error.code, error.message, error.details]).toEqual([
      SecretsErrorCode.INTEGRITY_VIOLATION,
      'secret "API_KEY" version 2 failed its integrity check (DIGEST_MISMATCH); its value is withheld',
      { key: 'API_KEY', customerOrganizationId: 'globex', version: 2, reason: 'DIGEST_MISMATCH' },
    ]);
    expect(integrityReasonOf(error)).toBe('DIGEST_MISMATCH');
  });

  it('withholds a value read at another version, customer or organization, by reason', async () => {
    const { ring, stored } = await ringAndValue();
    const cases: [Partial<StoredValue>, string][] = [
      [{ version: 3 }, CryptoErrorCode.WRONG_PLACE],
      [{ eventId: '00000000-0000-4000-8000-000000000000' }, CryptoErrorCode.WRONG_PLACE],
      [{ customerId: '' }, CryptoErrorCode.WRONG_STREAM],
      [{ organizationId: 'initech' }, CryptoErrorCode.WRONG_STREAM],
    ];
    for (const [moved, reason] of cases) {
      expect(integrityReasonOf(await refusal(openStoredValue(ring, { ...stored, ...moved })))).toBe(reason);
    }
  });

  it("checks a bound value's place even when its event's digest was deleted", async () => {
    const { ring, stored } = await ringAndValue();
    expect(await openStoredValue(ring, { ...stored, digest: null })).toBe(VALUE);
    const error = await refusal(openStoredValue(ring, { ...stored, digest: null, version: 1 }));
    expect(integrityReasonOf(error)).toBe(CryptoErrorCode.WRONG_PLACE);
  });

  it('lets other errors through: a purged data key is not an integrity failure', async () => {
    const { ring, stored } = await ringAndValue();
    await ring.purge('acme');
    await expect(openStoredValue(ring, stored)).rejects.toMatchObject({ code: CryptoErrorCode.DATA_KEY_NOT_FOUND });
    expect(integrityReasonOf(new Error('x'))).toBeUndefined();
  });
});
