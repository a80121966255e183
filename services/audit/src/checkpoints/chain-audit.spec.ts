import { type AuditRecord } from '../records/audit-record';
import { GENESIS_HASH, linkRecord } from '../records/hash-chain';
import { ChainAudit, type CheckpointState } from './chain-audit';
import { type VerifiedCheckpoint } from './checkpoint';

/** A chain of `n` records of acme at stream sequences 10, 20, 30, … */
function chain(n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const record = linkRecord(prev, {
      sequence: i * 10,
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      type: 'SecretCreated',
      organizationId: 'acme',
      customerOrganizationId: null,
      key: `K${i}`,
      version: 1,
      actor: { sub: 'admin@acme', org: 'acme', role: 'admin' },
      occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
      recordedAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
      resolved: [],
    });
    records.push(record);
    prev = record.hash;
  }
  return records;
}

/** Relinks records from the first on, as an insider who recomputes the chain does. */
function recomputed(records: readonly AuditRecord[]): AuditRecord[] {
  let prev = GENESIS_HASH;
  return records.map((record) => {
    const relinked = linkRecord(prev, record);
    prev = relinked.hash;
    return relinked;
  });
}

const signedAt = new Date('2026-01-02T00:00:00.000Z');

function checkpointOf(records: readonly AuditRecord[], through: number): CheckpointState {
  const last = records[through - 1];
  const checkpoint: VerifiedCheckpoint = {
    organizationId: 'acme',
    sequence: last.sequence,
    hash: last.hash,
    count: through,
    signedAt,
    keyId: 'k1',
  };
  return { kind: 'valid', checkpoint };
}

function audit(records: readonly AuditRecord[], state: CheckpointState, head = records.at(-1)) {
  const chainAudit = new ChainAudit(state);
  for (const record of records) chainAudit.check(record);
  chainAudit.checkHead(head && { lastSequence: head.sequence, lastHash: head.hash });
  return chainAudit.result();
}

describe('ChainAudit', () => {
  const records = chain(6);
  const atFour = checkpointOf(records, 4);
  const expectedSummary = {
    sequence: 40,
    count: 4,
    hash: records[3].hash,
    signedAt: '2026-01-02T00:00:00.000Z',
    keyId: 'k1',
  };

  it('accepts a chain that reaches its checkpoint and links on after it', () => {
    expect(audit(records, atFour)).toEqual({ ok: true, checked: 6, checkpoint: expectedSummary });
    expect(audit(records, { kind: 'none' })).toEqual({ ok: true, checked: 6 });
    expect(audit([], { kind: 'none' }, undefined)).toEqual({ ok: true, checked: 0 });
  });

  it('names a record edited in place (record_altered, at that record)', () => {
    const edited = records.map((r) => (r.sequence === 20 ? { ...r, key: 'OTHER' } : r));
    expect(audit(edited, atFour)).toMatchObject({ ok: false, reason: 'record_altered', firstBrokenSequence: 20 });
    expect(audit(edited, { kind: 'none' })).toMatchObject({
      ok: false,
      reason: 'record_altered',
      firstBrokenSequence: 20,
    });
  });

  it('catches an edit with the chain recomputed only through the checkpoint (record_altered, at the checkpoint)', () => {
    const rewritten = recomputed(records.map((r) => (r.sequence === 20 ? { ...r, key: 'OTHER' } : r)));
    expect(audit(rewritten, { kind: 'none' }).ok).toBe(true);
    expect(audit(rewritten, atFour)).toEqual({
      ok: false,
      checked: 6,
      firstBrokenSequence: 40,
      reason: 'record_altered',
      detail:
        'the chain through sequence 40 no longer ends in the hash signed at 2026-01-02T00:00:00.000Z: a record at or ' +
        'before it was changed and the chain recomputed',
      checkpoint: expectedSummary,
    });
  });

  it('counts records deleted before the checkpoint, recomputed or not (records_missing)', () => {
    const thinned = records.filter((r) => r.sequence !== 20);
    expect(audit(thinned, atFour)).toMatchObject({
      ok: false,
      reason: 'records_missing',
      firstBrokenSequence: 30,
      detail: 'the checkpoint signed at 2026-01-02T00:00:00.000Z counts 4 records through sequence 40; 3 are left',
    });
    expect(audit(recomputed(thinned), atFour)).toMatchObject({
      reason: 'records_missing',
      firstBrokenSequence: 40,
    });
  });

  it("reports an organization's records all gone as records_missing, not as an empty chain", () => {
    expect(audit([], atFour, undefined)).toEqual({
      ok: false,
      checked: 0,
      firstBrokenSequence: 40,
      reason: 'records_missing',
      detail: 'the checkpoint signed at 2026-01-02T00:00:00.000Z counts 4 records; none are left',
      checkpoint: expectedSummary,
    });
  });

  it('reports a tail cut before the checkpoint as truncated, and after it by the head', () => {
    expect(audit(records.slice(0, 3), atFour)).toMatchObject({
      ok: false,
      reason: 'truncated',
      firstBrokenSequence: 40,
      detail: 'the chain ends at sequence 30; the checkpoint signed at 2026-01-02T00:00:00.000Z reaches sequence 40',
    });
    // After the checkpoint only the head beside the records can tell, until the next checkpoint is signed.
    expect(audit(records.slice(0, 5), atFour, records[5])).toMatchObject({
      ok: false,
      reason: 'truncated',
      firstBrokenSequence: 60,
    });
  });

  it('reports an inserted record as record_altered', () => {
    const extra = recomputed([
      ...records.slice(0, 2),
      { ...records[2], sequence: 25, eventId: '00000000-0000-4000-8000-0000000000ff' },
      ...records.slice(2),
    ]);
    expect(audit(extra, atFour)).toMatchObject({ ok: false, reason: 'record_altered', firstBrokenSequence: 40 });
  });

  it('refuses to vouch for anything against a checkpoint that does not verify (checkpoint_invalid)', () => {
    expect(
      audit(records, { kind: 'invalid', message: 'checkpoint signature does not verify', streamSequence: 7 }),
    ).toEqual({
      ok: false,
      checked: 6,
      reason: 'checkpoint_invalid',
      detail: 'the latest checkpoint (AUDIT_CHECKPOINTS sequence 7) is refused: checkpoint signature does not verify',
    });
  });
});
