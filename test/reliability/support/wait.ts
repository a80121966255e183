import { createServer } from 'node:net';
import { eventually } from '@platform/testing';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs` (a bound on hanging, not a timing claim). */
export const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> =>
  eventually(what, condition, { timeoutMs, intervalMs: 50 });

/** A TCP port nothing listens on right now, for a server that must keep its port across restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
