import { type UpdateSecretResponseJson } from '@platform/contracts';
import { usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { affectedOf, deploymentCount } from './secrets.commands';

const options = {
  customer: { type: 'string', description: "the customer organization's own secret instead of the vendor's" },
  expires: { type: 'string', description: 'RFC 3339 time (in the future) when this value expires; without it, never' },
} as const;

/** `--customer` and `--expires` as request fields. */
function scopeAndExpiry(context: CommandContext): { customerOrganizationId?: string; expiresAt?: string } {
  const { customer, expires } = context.values;
  return {
    ...(typeof customer === 'string' ? { customerOrganizationId: customer } : {}),
    ...(typeof expires === 'string' ? { expiresAt: expires } : {}),
  };
}

function report(context: CommandContext, done: string, reply: UpdateSecretResponseJson): void {
  if (context.output.json) return void context.output.out(JSON.stringify(reply));
  const affected = affectedOf(reply.affectedDeployments);
  context.output.out(
    affected.count === 0
      ? `${done}; no deployment affected`
      : `${done}; ${deploymentCount(affected.count)} ${affected.count === 1 ? 'runs' : 'run'} another value until ` +
          `redeployed (secrets deployments --stale --key ${reply.key})`,
  );
}

export const rollbackCommand: Command = {
  path: ['rollback'],
  usage: 'rollback KEY VERSION [--customer ID] [--expires RFC3339]',
  summary: "Appends a new version holding VERSION's value (history shows where it came from).",
  details: 'Needs read_write or admin. A destroyed version cannot be rolled back to.',
  options,
  async run(context) {
    if (context.args.length !== 2) throw usage('rollback takes KEY and VERSION');
    const [key, given] = context.args;
    if (!/^[1-9][0-9]{0,9}$/.test(given))
      throw usage(`VERSION must be a version number (got ${JSON.stringify(given)})`);
    const reply = await (
      await context.client()
    ).request<UpdateSecretResponseJson>('secrets.v1.rollback', {
      key,
      toVersion: Number(given),
      ...scopeAndExpiry(context),
    });
    report(context, `rolled back ${reply.key} to version ${given}'s value, as version ${reply.version}`, reply);
  },
};

export const restoreCommand: Command = {
  path: ['restore'],
  usage: 'restore KEY [--customer ID] [--expires RFC3339]',
  summary: 'Brings a deleted secret back with its last value, as a new version.',
  details: 'Needs read_write or admin. Refused if the key is live (never deleted, or created again since).',
  options,
  async run(context) {
    if (context.args.length !== 1) throw usage('restore takes exactly one KEY');
    const [key] = context.args;
    const reply = await (
      await context.client()
    ).request<UpdateSecretResponseJson>('secrets.v1.restore', { key, ...scopeAndExpiry(context) });
    report(context, `restored ${reply.key} as version ${reply.version}`, reply);
  },
};
