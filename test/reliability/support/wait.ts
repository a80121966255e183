import { eventually } from '@platform/testing';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs` (a bound on hanging, not a timing claim). */
export const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> =>
  eventually(what, condition, { timeoutMs, intervalMs: 50 });

/** A TCP port nothing listens on right now, for a server that must keep its port across restarts. */
export { freePort } from '@platform/testing';
