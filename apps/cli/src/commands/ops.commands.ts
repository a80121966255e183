import { ConfigError } from '@platform/config';
import { main as auditOps } from '../../../../services/audit/src/ops/audit-ops';
import { main as secretsOps } from '../../../../services/secrets/src/ops/secrets-ops';
import { CliError, EXIT } from '../cli-error';
import { type Command, type CommandContext } from '../command';

/** Ops commands work on the database directly (DATABASE_URL, SECRETS_MASTER_KEYS), not over NATS. */
async function delegate(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.USAGE);
    throw new CliError(error instanceof Error ? error.message : String(error), EXIT.FAILURE);
  }
}

const onlyArgs = (context: CommandContext, count: number, usageText: string) => {
  if (context.args.length !== count) throw new CliError(`usage: secrets ${usageText}`, EXIT.USAGE);
};

export const OPS_COMMANDS: readonly Command[] = [
  {
    path: ['projections', 'rebuild'],
    usage: 'projections rebuild',
    summary: 'Ops: truncates secret_view and replays every event into it (progress on stderr, events/s at the end).',
    async run(context) {
      onlyArgs(context, 0, 'projections rebuild');
      return delegate(() => secretsOps(['projections', 'rebuild']));
    },
  },
  {
    path: ['keys', 'rotate-master'],
    usage: 'keys rotate-master',
    summary: 'Ops: rewraps every data key under the active (first) master key in SECRETS_MASTER_KEYS.',
    async run(context) {
      onlyArgs(context, 0, 'keys rotate-master');
      return delegate(() => secretsOps(['keys', 'rotate-master']));
    },
  },
  {
    path: ['keys', 'rotate'],
    usage: 'keys rotate --org ORG',
    summary: 'Ops: gives an organization a new data key for new writes; old versions keep their keys.',
    options: { org: { type: 'string' } },
    async run(context) {
      const org = context.values.org;
      if (typeof org !== 'string') throw new CliError('usage: secrets keys rotate --org ORG', EXIT.USAGE);
      return delegate(() => secretsOps(['keys', 'rotate', '--org', org]));
    },
  },
  {
    path: ['org', 'purge'],
    usage: 'org purge ORG --yes',
    summary:
      'Ops: crypto-shreds an organization: deletes its data keys and read-model rows; events stay, values become unrecoverable.',
    options: { yes: { type: 'boolean' } },
    async run(context) {
      onlyArgs(context, 1, 'org purge ORG --yes');
      if (!context.values.yes)
        throw new CliError(`purging ${context.args[0]} destroys its values for good; repeat with --yes`, EXIT.USAGE);
      return delegate(() => secretsOps(['org', 'purge', context.args[0], '--yes']));
    },
  },
  {
    path: ['audit', 'rebuild'],
    usage: 'audit rebuild',
    summary:
      'Ops: empties the audit tables and re-applies SECRETS_EVENTS from sequence 1 (stop the audit service first).',
    async run(context) {
      onlyArgs(context, 0, 'audit rebuild');
      return delegate(async () => {
        await auditOps('rebuild');
        return Number(process.exitCode ?? 0);
      });
    },
  },
];
