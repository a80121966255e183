import { type AuditRecordJson } from '@platform/contracts';
import { keyAndVersionOf } from './audit.commands';

const resolveOf = (count: number): AuditRecordJson =>
  ({
    type: 'SecretValuesResolved',
    key: null,
    version: 1,
    resolved: Array.from({ length: count }, (_, i) => ({ key: `KEY_${i}`, version: i + 2, scope: 'vendor' })),
  }) as unknown as AuditRecordJson;

describe('keyAndVersionOf', () => {
  it('shows a key and its version for a record about one key', () => {
    expect(keyAndVersionOf({ type: 'SecretValueUpdated', key: 'API_KEY', version: 4 } as AuditRecordJson)).toEqual([
      'API_KEY',
      '4',
    ]);
  });

  it('shows each released key at its version for a small resolve, and no record version', () => {
    expect(keyAndVersionOf(resolveOf(2))).toEqual(['KEY_0@2,KEY_1@3', '-']);
  });

  it('shows the first three keys and how many there are for a large resolve', () => {
    const [key, version] = keyAndVersionOf(resolveOf(40));
    expect([key, version]).toEqual(['KEY_0@2,KEY_1@3,KEY_2@4 +37 more (40 keys)', '-']);
  });

  it('shows - for a record without a key, such as a data key rotation', () => {
    expect(keyAndVersionOf({ type: 'DataKeyRotated', key: null, version: 0 } as unknown as AuditRecordJson)).toEqual([
      '-',
      '-',
    ]);
  });
});
