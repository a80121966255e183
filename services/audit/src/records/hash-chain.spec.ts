import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { type AuditRecordContent } from './audit-record';
import { ChainVerifier, GENESIS_HASH, canonicalJson, canonicalRecord, chainHash, linkRecord } from './hash-chain';

function content(sequence: number, overrides: Partial<AuditRecordContent> = {}): AuditRecordContent {
  return {
    sequence,
    eventId: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    type: 'SecretCreated',
    organizationId: 'acme',
    customerOrganizationId: null,
    key: 'DB_PASSWORD',
    version: 1,
    actor: { sub: 'admin@acme', org: 'acme', role: 'admin' },
    occurredAt: new Date('2026-01-01T12:00:00.123Z'),
    recordedAt: new Date('2026-01-01T12:00:00.456Z'),
    resolved: [],
    ...overrides,
  };
}

function chainOf(count: number) {
  const records = [];
  let prev = GENESIS_HASH;
  for (let sequence = 1; sequence <= count; sequence++) {
    const record = linkRecord(prev, content(sequence));
    records.push(record);
    prev = record.hash;
  }
  return records;
}

describe('canonical record', () => {
  it('is the RFC 8785 form: sorted keys, no whitespace, nulls kept', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x"y'], C: { z: 2, y: 'é' } })).toBe(
      '{"C":{"y":"é","z":2},"a":[true,null,"x\\"y"],"b":1}',
    );
    expect(canonicalRecord(content(7))).toBe(
      '{"actor":{"org":"acme","role":"admin","sub":"admin@acme"},"customerOrganizationId":null,' +
        '"eventId":"00000000-0000-4000-8000-000000000007","key":"DB_PASSWORD","occurredAt":"2026-01-01T12:00:00.123Z",' +
        '"organizationId":"acme","recordedAt":"2026-01-01T12:00:00.456Z","resolved":[],"sequence":7,' +
        '"type":"SecretCreated","version":1}',
    );
  });

  it('does not depend on the order fields were set in', () => {
    const reordered = { ...content(3), actor: { role: 'admin', org: 'acme', sub: 'admin@acme' } };
    expect(canonicalRecord(reordered)).toBe(canonicalRecord(content(3)));
  });

  it('is exactly the generic JCS serialization of the record, for any text and numbers', () => {
    const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
    const nullableText = fc.option(anyText, { nil: null });
    const instant = fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    });
    const count = fc.integer({ min: 0, max: 2 ** 31 - 1 });
    const record = fc.record({
      sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      eventId: anyText,
      type: anyText,
      organizationId: anyText,
      customerOrganizationId: nullableText,
      key: nullableText,
      version: count,
      actor: fc.record({ sub: anyText, org: anyText, role: anyText }),
      occurredAt: instant,
      recordedAt: instant,
      resolved: fc.array(fc.record({ key: anyText, version: count, scope: anyText }), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(record, (r) => {
        const generic = canonicalJson({
          ...r,
          actor: { ...r.actor },
          occurredAt: r.occurredAt.toISOString(),
          recordedAt: r.recordedAt.toISOString(),
          resolved: r.resolved.map((entry) => ({ ...entry })),
        });
        expect(canonicalRecord(r)).toBe(generic);
      }),
      { numRuns: 500 },
    );
  });

  it('names who asked and the deployment only when the record has them, in JCS order', () => {
    const attributed = content(8, {
      type: 'SecretValuesResolved',
      key: null,
      requestedBy: { sub: 'alice@acme', org: 'acme', role: 'read_write' },
      deploymentId: 'web-1',
    });
    const generic = canonicalJson({
      ...attributed,
      actor: { ...attributed.actor },
      requestedBy: { sub: 'alice@acme', org: 'acme', role: 'read_write' },
      deploymentId: 'web-1',
      occurredAt: attributed.occurredAt.toISOString(),
      recordedAt: attributed.recordedAt.toISOString(),
      resolved: [],
    });
    expect(canonicalRecord(attributed)).toBe(generic);
    expect(canonicalRecord(content(8))).not.toContain('requestedBy');
    const linked = linkRecord(GENESIS_HASH, attributed);
    expect(linked).toMatchObject({ requestedBy: attributed.requestedBy, deploymentId: 'web-1' });
    expect(chainHash(GENESIS_HASH, { ...attributed, deploymentId: 'web-2' })).not.toBe(linked.hash);
  });

  it('hashes sha256 over the previous hash followed by the canonical record', () => {
    const record = content(1, { resolved: [{ key: 'API_TOKEN', version: 2, scope: 'customer' }] });
    const expected = createHash('sha256')
      .update(GENESIS_HASH + canonicalRecord(record))
      .digest('hex');
    expect(chainHash(GENESIS_HASH, record)).toBe(expected);
  });
});

describe('ChainVerifier', () => {
  function verify(records: ReturnType<typeof chainOf>, head = records[records.length - 1]) {
    const verifier = new ChainVerifier();
    for (const record of records) verifier.check(record);
    verifier.checkHead(head && { lastSequence: head.sequence, lastHash: head.hash });
    return { checked: verifier.checked, broken: verifier.firstBrokenSequence };
  }

  it('accepts an intact chain', () => {
    expect(verify(chainOf(5))).toEqual({ checked: 5, broken: undefined });
  });

  it('reports the first record whose content changed', () => {
    const records = chainOf(5);
    records[2] = { ...records[2], actor: { ...records[2].actor, sub: 'mallory' } };
    records[3] = { ...records[3], version: 9 };
    expect(verify(records)).toEqual({ checked: 5, broken: 3 });
  });

  it('reports the record after one that was removed, or rehashed', () => {
    const records = chainOf(5);
    const head = records[4];
    expect(verify([...records.slice(0, 2), ...records.slice(3)], head).broken).toBe(4);
    const forged = linkRecord(records[1].hash, { ...records[2], key: 'OTHER' });
    expect(verify([records[0], records[1], forged, records[3], records[4]], head).broken).toBe(4);
  });

  it('reports the chain head when records were cut off the end', () => {
    const records = chainOf(5);
    expect(verify(records.slice(0, 3), records[4]).broken).toBe(5);
  });
});
