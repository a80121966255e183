// No I/O and no imports: pure unit tests (*.spec.ts) may use it as well as int and e2e tests.

export interface EventuallyOptions {
  /** How long to keep probing before failing; a bound on hanging, not a timing claim. Default 30 s. */
  readonly timeoutMs?: number;
  /** The pause between probes. Default 25 ms. */
  readonly intervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL_MS = 25;

/**
 * Probes until `accept` takes the probed value and returns that value; fails naming `what` after the timeout.
 * The value is not put in the error, since a probe may read something secret.
 */
export async function eventuallyValue<T>(
  what: string,
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = DEFAULT_INTERVAL_MS }: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Polls `check` (sync or async) until it is true; fails naming `what` after the timeout. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  options?: EventuallyOptions,
): Promise<void> {
  await eventuallyValue(what, check, (done) => done, options);
}
