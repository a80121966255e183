/** A stable signed 32-bit key (FNV-1a) for `pg_advisory_lock`, derived from a readable name. */
export function advisoryLockKey(name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
