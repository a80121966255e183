import { type ProjectionContext } from '@platform/event-store';

/**
 * Erases the ciphertexts of a secret's destroyed versions from their events, in the transaction that appends the
 * `SecretVersionsDestroyed` (ARCHITECTURE.md §6): the events stay (type, metadata, data key id, digest), the value
 * they carried is gone. `secret_view` holds only current values, which are never destroyed. Returns how many.
 */
export async function eraseDestroyedValues(
  context: ProjectionContext,
  streamId: string,
  versions: readonly number[],
): Promise<number> {
  const erased = await context.execute(
    `update events set data = data - 'value'
     where stream_id = $1 and stream_version = any($2::int[])
       and type in ('SecretCreated', 'SecretValueUpdated') and data ? 'value'
     returning 1`,
    [streamId, versions],
  );
  return erased.length;
}
