import { type ErrorMapper, type WireError } from '@platform/messaging';

/** The wire error `mapper` makes of what `promise` rejects with; any other rejection, or none, fails the test. */
export async function wireErrorOf(promise: Promise<unknown>, mapper: ErrorMapper): Promise<WireError> {
  try {
    await promise;
  } catch (error) {
    const wire = mapper(error);
    if (wire) return wire;
    throw error;
  }
  throw new Error('expected a refusal');
}
