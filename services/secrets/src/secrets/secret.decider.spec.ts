import { deciderSpecificationFor } from '../testing/decider-specification';
import {
  type EventMetadata,
  type SecretEvent,
  type SecretHistoryEvent,
  type SecretScope,
  evolve,
  initialState,
} from './secret';
import {
  type SealedValue,
  type SecretCommand,
  MAX_VALUE_BYTES,
  assertValidKey,
  assertValidValue,
  decide,
} from './secret.decider';
import { SecretsError, SecretsErrorCode } from './secrets.error';

const given = deciderSpecificationFor<SecretCommand, SecretHistoryEvent, ReturnType<typeof initialState>>({
  decide,
  evolve,
  initialState,
}).given;

const scope: SecretScope = { organizationId: 'acme', customerOrganizationId: 'globex' };
const alice = { sub: 'alice@acme', org: 'acme', role: 'admin' };
const bob = { sub: 'bob@globex', org: 'globex', role: 'read_write' };
const at = (occurredAt: string, actor = alice): EventMetadata => ({ actor, occurredAt });
const sealed = (n: number): SealedValue => ({ jwe: `jwe-${n}`, dataKeyId: 'dek-1', digest: `digest-${n}` });

const created = (n = 1, metadata = at('2026-01-01T00:00:00.000Z')): SecretEvent => ({
  type: 'SecretCreated',
  data: { key: 'API_KEY', scope, value: `jwe-${n}`, dataKeyId: 'dek-1', digest: `digest-${n}` },
  metadata,
});
const updated = (n: number, metadata = at('2026-01-02T00:00:00.000Z')): SecretEvent => ({
  type: 'SecretValueUpdated',
  data: { value: `jwe-${n}`, dataKeyId: 'dek-1', digest: `digest-${n}` },
  metadata,
});
const deleted = (metadata = at('2026-01-03T00:00:00.000Z')): SecretEvent => ({
  type: 'SecretDeleted',
  data: {},
  metadata,
});

/** The organization's purge, folded in where it falls among the stream's events (by position). */
const purged = (metadata = at('2026-01-04T00:00:00.000Z', { sub: 'ops:root', org: 'platform', role: 'admin' })) =>
  ({
    type: 'OrganizationPurged',
    data: { organizationId: 'acme', dataKeysDeleted: 1 },
    metadata,
  }) satisfies SecretHistoryEvent;

const create = (key = 'API_KEY', n = 1, metadata = at('2026-01-01T00:00:00.000Z')): SecretCommand => ({
  type: 'CreateSecret',
  data: { key, scope, value: sealed(n) },
  metadata,
});
const update = (n: number, metadata = at('2026-01-02T00:00:00.000Z')): SecretCommand => ({
  type: 'UpdateSecretValue',
  data: { key: 'API_KEY', value: sealed(n) },
  metadata,
});
const remove = (metadata = at('2026-01-03T00:00:00.000Z')): SecretCommand => ({
  type: 'DeleteSecret',
  data: { key: 'API_KEY' },
  metadata,
});

const rolledBack = (n: number, fromVersion: number, metadata = at('2026-01-05T00:00:00.000Z')): SecretEvent => ({
  type: 'SecretRolledBack',
  data: { value: `jwe-${n}`, dataKeyId: 'dek-1', digest: `digest-${n}`, fromVersion },
  metadata,
});
const restored = (n: number, fromVersion: number, metadata = at('2026-01-06T00:00:00.000Z')): SecretEvent => ({
  type: 'SecretRestored',
  data: { value: `jwe-${n}`, dataKeyId: 'dek-1', digest: `digest-${n}`, fromVersion },
  metadata,
});
const rollBack = (n: number, fromVersion: number, metadata = at('2026-01-05T00:00:00.000Z')): SecretCommand => ({
  type: 'RollBackSecret',
  data: { key: 'API_KEY', fromVersion, value: sealed(n) },
  metadata,
});
const restore = (n: number, fromVersion: number, metadata = at('2026-01-06T00:00:00.000Z')): SecretCommand => ({
  type: 'RestoreSecret',
  data: { key: 'API_KEY', fromVersion, value: sealed(n) },
  metadata,
});
const withExpiry = <C extends SecretCommand>(command: C, expiresAt: string): C =>
  ({ ...command, data: { ...command.data, expiresAt } }) as C;

function refusedWith(code: SecretsErrorCode, message: string | RegExp) {
  return (error: Error) => {
    expect(error).toBeInstanceOf(SecretsError);
    expect((error as SecretsError).code).toBe(code);
    expect(error.message).toMatch(message);
  };
}

describe('secret decider', () => {
  describe('CreateSecret', () => {
    it('creates a secret that never existed, with time and actor from the command metadata', () => {
      given([]).when(create()).then([created()]);
    });

    it('creates again after a delete, in the same stream', () => {
      const recreate = at('2026-02-01T00:00:00.000Z', bob);
      given([created(), deleted()])
        .when(create('API_KEY', 3, recreate))
        .then([created(3, recreate)]);
    });

    it('refuses a key that is live', () => {
      given([created()])
        .when(create())
        .thenThrows(refusedWith(SecretsErrorCode.ALREADY_EXISTS, 'secret "API_KEY" already exists in this scope'));
    });

    it.each([
      ['API_KEY', 'API_KEY'],
      ['database_password', 'database_password'],
      ['GitHubToken123', 'GitHubToken123'],
      ['stripe_api_key_prod', 'stripe_api_key_prod'],
      ['a single letter', 'a'],
      ['256 characters', 'A'.repeat(256)],
    ])('accepts the valid key %s', (_label, key) => {
      given([])
        .when(create(key))
        .then([{ ...created(), data: { ...(created().data as object), key } } as SecretEvent]);
    });

    it.each([
      ['_API_KEY', 'starts with an underscore'],
      ['123_KEY', 'starts with a digit'],
      ['API-KEY', 'contains a hyphen'],
      ['API KEY', 'contains a space'],
      ['KEY:X', 'contains a colon'],
      ['KÉY', 'contains a non-ASCII letter'],
    ])('refuses the key %j (%s)', (key) => {
      given([])
        .when(create(key))
        .thenThrows(
          refusedWith(
            SecretsErrorCode.INVALID_KEY,
            'key is invalid: it must start with a letter and contain only letters, digits and underscores',
          ),
        );
    });

    it('refuses an empty key and one longer than 256 characters', () => {
      given([]).when(create('')).thenThrows(refusedWith(SecretsErrorCode.INVALID_KEY, 'key must not be empty'));
      given([])
        .when(create('A'.repeat(257)))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_KEY, 'key must be at most 256 characters'));
    });
  });

  describe('UpdateSecretValue', () => {
    it('updates a live secret', () => {
      given([created()])
        .when(update(2))
        .then([updated(2)]);
    });

    it('updates again after an update', () => {
      const later = at('2026-01-05T00:00:00.000Z', bob);
      given([created(), updated(2)])
        .when(update(3, later))
        .then([updated(3, later)]);
    });

    it('refuses a secret that never existed', () => {
      given([])
        .when(update(2))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
    });

    it('refuses a deleted secret', () => {
      given([created(), deleted()])
        .when(update(2))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
    });
  });

  describe('after the organization was purged', () => {
    const purgedSecrets = [
      ['live', [created(), updated(2), purged()]],
      ['deleted', [created(), deleted(), purged()]],
    ] as const;

    it.each(purgedSecrets)('creates a %s secret again, in the same stream', (_label, history) => {
      const recreate = at('2026-02-01T00:00:00.000Z', bob);
      given(history)
        .when(create('API_KEY', 5, recreate))
        .then([created(5, recreate)]);
    });

    it.each(purgedSecrets)('refuses to update or delete a %s secret as not found', (_label, history) => {
      given(history)
        .when(update(5))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
      given(history)
        .when(remove())
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
    });

    it('treats a secret created after the purge as live', () => {
      given([created(), purged(), created(3)])
        .when(update(4))
        .then([updated(4)]);
      given([created(), purged(), created(3)])
        .when(create())
        .thenThrows(refusedWith(SecretsErrorCode.ALREADY_EXISTS, 'secret "API_KEY" already exists in this scope'));
    });

    it('a purge before the first create changes nothing', () => {
      given([purged()]).when(create()).then([created()]);
      given([purged()])
        .when(update(2))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
    });
  });

  describe('DestroySecretVersions', () => {
    const destroyAt = at('2026-01-05T00:00:00.000Z');
    const destroy = (versions: number[]): SecretCommand => ({
      type: 'DestroySecretVersions',
      data: { key: 'API_KEY', scope, versions },
      metadata: destroyAt,
    });
    const destroyed = (versions: number[]) =>
      ({
        type: 'SecretVersionsDestroyed',
        data: { organizationId: 'acme', customerOrganizationId: 'globex', key: 'API_KEY', versions },
        metadata: destroyAt,
      }) satisfies SecretHistoryEvent;

    it('destroys earlier values of a live secret, each version once and in order', () => {
      given([created(1), updated(2), updated(3)])
        .when(destroy([2, 1, 2]))
        .then([destroyed([1, 2])]);
    });

    it('destroys the last value of a deleted secret', () => {
      given([created(1), updated(2), deleted()])
        .when(destroy([2]))
        .then([destroyed([2])]);
    });

    it('keeps counting versions across a delete and a re-create', () => {
      given([created(1), deleted(), created(3), updated(4)])
        .when(destroy([1, 3]))
        .then([destroyed([1, 3])]);
    });

    it('refuses the current value of a live secret', () => {
      given([created(1), updated(2)])
        .when(destroy([2]))
        .thenThrows(
          refusedWith(
            SecretsErrorCode.FAILED_PRECONDITION,
            'version 2 is the current value of secret API_KEY; update or delete the secret first',
          ),
        );
    });

    it('refuses a version destroyed before, with the error a rollback or a pin gets', () => {
      given([created(1), updated(2), updated(3), destroyed([1])])
        .when(destroy([2, 1]))
        .thenThrows(refusedWith(SecretsErrorCode.VALUE_DESTROYED, 'secret API_KEY version 1 was destroyed'));
    });

    it('refuses a version without a value: a deletion, or one the stream never reached', () => {
      given([created(1), deleted(), created(3), updated(4)])
        .when(destroy([2]))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, 'secret API_KEY has no value at version 2'));
      given([created(1), updated(2)])
        .when(destroy([7]))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, 'secret API_KEY has no value at version 7'));
    });

    it('refuses no versions and versions out of range', () => {
      given([created(1), updated(2)])
        .when(destroy([]))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, 'versions must name at least one version'));
      given([created(1), updated(2)])
        .when(destroy([0]))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, /versions must be versions from 1 to/));
    });

    it('refuses a secret that never existed or was purged: its values are gone already', () => {
      given([])
        .when(destroy([1]))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'not found in this scope'));
      given([created(1), updated(2), purged()])
        .when(destroy([1]))
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'not found in this scope'));
    });

    it("forgets values shredded with the customer: a re-created secret's earlier versions hold none", () => {
      const customerPurged = {
        type: 'CustomerPurged',
        data: { organizationId: 'acme', customerOrganizationId: 'globex', dataKeysDeleted: 1 },
        metadata: at('2026-01-04T00:00:00.000Z'),
      } satisfies SecretHistoryEvent;
      given([created(1), updated(2), customerPurged, created(3), updated(4)])
        .when(destroy([1]))
        .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, 'secret API_KEY has no value at version 1'));
      given([created(1), updated(2), customerPurged, created(3), updated(4)])
        .when(destroy([3]))
        .then([destroyed([3])]);
    });
  });

  describe('DeleteSecret', () => {
    it('deletes a live secret', () => {
      given([created(), updated(2)])
        .when(remove())
        .then([deleted()]);
    });

    it('refuses a secret that never existed or is already deleted', () => {
      given([])
        .when(remove())
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
      given([created(), deleted()])
        .when(remove())
        .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
    });
  });
});

describe('RollBackSecret', () => {
  it('appends the earlier value, sealed again, with the version it came from', () => {
    given([created(), updated(2)])
      .when(rollBack(3, 1))
      .then([rolledBack(3, 1)]);
  });

  it('rolls back again after a rollback', () => {
    given([created(), updated(2), rolledBack(3, 1)])
      .when(rollBack(4, 2))
      .then([rolledBack(4, 2)]);
  });

  it.each([
    ['never existed', []],
    ['is deleted', [created(), deleted()]],
    ['was purged', [created(), updated(2), purged()]],
  ] as const)('refuses a secret that %s as not found', (_label, history) => {
    given(history)
      .when(rollBack(3, 1))
      .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
  });
});

describe('RestoreSecret', () => {
  it('brings a deleted secret back with its last value as a new version', () => {
    given([created(), updated(2), deleted()])
      .when(restore(4, 2))
      .then([restored(4, 2)]);
  });

  it('leaves the secret live: it can be updated and deleted again', () => {
    given([created(), deleted(), restored(3, 1)])
      .when(update(4))
      .then([updated(4)]);
    given([created(), deleted(), restored(3, 1)])
      .when(remove())
      .then([deleted()]);
  });

  it.each([
    ['was never deleted', [created(), updated(2)]],
    ['was created again since its delete', [created(), deleted(), created(3)]],
    ['was restored already', [created(), deleted(), restored(3, 1)]],
  ] as const)('refuses a live secret that %s', (_label, history) => {
    given(history)
      .when(restore(5, 1))
      .thenThrows(
        refusedWith(
          SecretsErrorCode.FAILED_PRECONDITION,
          'secret "API_KEY" is live, not deleted (never deleted, or created again since): nothing to restore',
        ),
      );
  });

  it.each([
    ['never existed', []],
    ['was purged', [created(), deleted(), purged()]],
  ] as const)('refuses a secret that %s as not found', (_label, history) => {
    given(history)
      .when(restore(3, 1))
      .thenThrows(refusedWith(SecretsErrorCode.NOT_FOUND, 'secret "API_KEY" not found in this scope'));
  });
});

describe('expiresAt', () => {
  const now = '2026-01-02T00:00:00.000Z';

  it('records a future expiry, normalized to UTC, on every value event', () => {
    const expiry = { expiresAt: '2027-01-31T00:00:00.000Z' };
    given([])
      .when(withExpiry(create(), '2027-01-31T01:00:00+01:00'))
      .then([{ ...created(), data: { ...(created().data as object), ...expiry } } as SecretEvent]);
    given([created()])
      .when(withExpiry(update(2, at(now)), '2027-01-31T00:00:00Z'))
      .then([{ ...updated(2, at(now)), data: { ...(updated(2).data as object), ...expiry } } as SecretEvent]);
    given([created(), updated(2)])
      .when(withExpiry(rollBack(3, 1), '2027-01-31T00:00:00Z'))
      .then([{ ...rolledBack(3, 1), data: { ...(rolledBack(3, 1).data as object), ...expiry } } as SecretEvent]);
    given([created(), deleted()])
      .when(withExpiry(restore(3, 1), '2027-01-31T00:00:00Z'))
      .then([{ ...restored(3, 1), data: { ...(restored(3, 1).data as object), ...expiry } } as SecretEvent]);
  });

  it.each([
    ['now', now],
    ['a second ago', '2026-01-01T23:59:59Z'],
  ])('refuses an expiry that is not in the future (%s)', (_label, expiresAt) => {
    given([created()])
      .when(withExpiry(update(2, at(now)), expiresAt))
      .thenThrows(refusedWith(SecretsErrorCode.INVALID_ARGUMENT, /^expiresAt must be in the future/));
  });

  it.each([
    ['a date without a time', '2027-01-31'],
    ['a time without a zone', '2027-01-31T00:00:00'],
    ['a day that does not exist', '2027-02-31T00:00:00Z'],
    ['words', 'next tuesday'],
    ['an empty string', ''],
  ])('refuses %s', (_label, expiresAt) => {
    given([])
      .when(withExpiry(create(), expiresAt))
      .thenThrows(
        refusedWith(
          SecretsErrorCode.INVALID_ARGUMENT,
          'expiresAt must be an RFC 3339 date-time with a time zone, e.g. 2027-01-31T00:00:00Z',
        ),
      );
  });
});

describe('evolve', () => {
  it('follows a secret through created, updated, deleted and created again', () => {
    const states = [created(), updated(2), deleted(), created(4)].reduce(
      (trail, event) => [...trail, evolve(trail[trail.length - 1], event)],
      [initialState()],
    );
    expect(states.map((state) => state.status)).toEqual(['Absent', 'Live', 'Live', 'Deleted', 'Live']);
  });

  it('purges a live or deleted secret, and a later create revives it', () => {
    const states = [created(), purged(), created(2), deleted(), purged()].reduce(
      (trail, event) => [...trail, evolve(trail[trail.length - 1], event)],
      [initialState()],
    );
    expect(states.map((state) => state.status)).toEqual(['Absent', 'Live', 'Purged', 'Live', 'Deleted', 'Purged']);
  });

  it('keeps a rolled-back secret live and makes a restored one live again', () => {
    const states = [created(), rolledBack(2, 1), deleted(), restored(4, 2)].reduce(
      (trail, event) => [...trail, evolve(trail[trail.length - 1], event)],
      [initialState()],
    );
    expect(states.map((state) => state.status)).toEqual(['Absent', 'Live', 'Live', 'Deleted', 'Live']);
  });
});

describe('value rules', () => {
  it('accepts any non-empty UTF-8 text up to 64 KiB', () => {
    expect(() => assertValidValue('s3cr3t')).not.toThrow();
    expect(() => assertValidValue('x'.repeat(MAX_VALUE_BYTES))).not.toThrow();
    expect(() => assertValidValue('🔑 multi\nline')).not.toThrow();
  });

  it('refuses an empty value', () => {
    expect(() => assertValidValue('')).toThrow(
      expect.objectContaining({ code: SecretsErrorCode.INVALID_VALUE, message: 'value must not be empty' }),
    );
  });

  it('counts bytes, not characters, against 64 KiB and never quotes the value', () => {
    const value = 'é'.repeat(MAX_VALUE_BYTES / 2 + 1);
    expect(() => assertValidValue(value)).toThrow(
      expect.objectContaining({
        code: SecretsErrorCode.VALUE_TOO_LARGE,
        message: `value is ${MAX_VALUE_BYTES + 2} bytes, more than ${MAX_VALUE_BYTES}`,
      }),
    );
  });

  it('refuses text that cannot be UTF-8 (a lone surrogate)', () => {
    expect(() => assertValidValue('abc\ud800')).toThrow(
      expect.objectContaining({ code: SecretsErrorCode.INVALID_VALUE, message: 'value must be valid UTF-8 text' }),
    );
  });

  it('assertValidKey is the rule the decider applies', () => {
    expect(() => assertValidKey('API_KEY')).not.toThrow();
    expect(() => assertValidKey('API-KEY')).toThrow(SecretsError);
  });
});
