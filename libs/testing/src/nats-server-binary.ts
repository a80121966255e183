import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The nats-server the tests start servers and clusters from: NATS_SERVER_BIN, else nats-server on the PATH, else
 * Debian's /usr/sbin/nats-server. Missing, it is an error rather than a skipped test (`.ci/run` installs it).
 */
export function natsServerBinary(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin'];
  const found = dirs.map((dir) => join(dir, 'nats-server')).find((file) => existsSync(file));
  if (found === undefined) {
    throw new Error(
      'nats-server is not installed: apt-get install nats-server (as .ci/run does), or set NATS_SERVER_BIN',
    );
  }
  return found;
}
