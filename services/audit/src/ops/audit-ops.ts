// Ops entry: `ts-node -T -r tsconfig-paths/register services/audit/src/ops/audit-ops.ts rebuild` (`npm run audit -- rebuild`).
import { SingleBar } from 'cli-progress';
import { ConfigError, type Environment, databaseSettings, loadServiceConfig, urlList } from '@platform/config';
import { natsConnectionOptions } from '@platform/messaging';
import { connect } from 'nats';
import { AuditError } from '../audit.error';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore } from '../records/audit-store.repository';
import { rebuildAuditTrail } from '../stream/audit-rebuild';
import { acknowledgeStreamGap, describeGap, openStreamGaps } from './stream-gap-ops';

const USAGE = `usage: audit-ops <command>

commands:
  rebuild   empty the audit trail and re-apply SECRETS_EVENTS from sequence 1 (refused while the audit service runs)
  migrate   apply pending audit schema migrations
  gaps      list runs of SECRETS_EVENTS sequences deleted from the stream that stop the audit applier
  acknowledge-gap FROM TO BY
            accept that sequences FROM..TO are gone for good (BY: who, or a ticket); the applier moves past them`;

async function rebuild(env: Environment): Promise<void> {
  const config = loadServiceConfig('audit', databaseSettings, env);
  await migrateAuditDatabase(config.databaseUrl);
  const nats = await connect({
    servers: urlList(config.natsUrl),
    name: 'audit-ops',
    // TLS and credentials as the services use them; with a NATS user, replies come to its own inboxes.
    ...natsConnectionOptions(config),
  });
  const store = AuditStore.open(config.databaseUrl, { poolSize: 2 });
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'rebuilding audit trail [{bar}] {percentage}% | {value}/{total} stream sequences | {eta_formatted} left',
  });
  try {
    // Only reads SECRETS_EVENTS (the compose `ops` user may not create or update streams): a missing one is refused.
    let started = false;
    const summary = await rebuildAuditTrail({
      nats,
      subjectPrefix: config.subjectPrefix,
      store,
      onProgress: ({ total, applied }) => {
        if (!started) bar.start(total, applied);
        started = true;
        bar.update(applied);
      },
    });
    bar.stop();
    process.stdout.write(
      `rebuilt the audit trail: ${summary.events} events, ${summary.records} records, ` +
        `${summary.rejected} malformed skipped, ${summary.missing} sequences missing from the stream (recorded in ` +
        `audit.stream_gaps), through stream sequence ${summary.lastSequence}, ` +
        `in ${summary.seconds.toFixed(1)} s; the durable consumer continues at ${summary.lastSequence + 1}\n`,
    );
  } finally {
    bar.stop();
    await store.close();
    await nats.drain();
  }
}

export async function main(
  command: string | undefined,
  env: Environment = process.env,
  args: readonly string[] = process.argv.slice(3),
): Promise<void> {
  switch (command) {
    case 'gaps': {
      const gaps = await openStreamGaps(env);
      process.stdout.write(
        gaps.length === 0 ? 'no open gap in SECRETS_EVENTS\n' : `${gaps.map(describeGap).join('\n')}\n`,
      );
      return;
    }
    case 'acknowledge-gap':
      process.stdout.write(`${describeGap(await acknowledgeStreamGap(env, args[0], args[1], args[2]))}\n`);
      return;
    case 'rebuild':
      return rebuild(env);
    case 'migrate': {
      const applied = await migrateAuditDatabase(loadServiceConfig('audit', databaseSettings, env).databaseUrl);
      process.stdout.write(applied.length > 0 ? `applied ${applied.join(', ')}\n` : 'audit schema is up to date\n');
      return;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv[2]).then(
    () => process.exit(),
    (error: unknown) => {
      const refusal = error instanceof ConfigError || error instanceof AuditError;
      process.stderr.write(`${refusal ? error.message : `audit-ops failed: ${(error as Error).message}`}\n`);
      process.exit(1);
    },
  );
}
