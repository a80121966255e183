import {
  type AffectedDeploymentsJson,
  type DeleteSecretResponseJson,
  type GetSecretHistoryResponseJson,
  type ListSecretsResponseJson,
  type SecretJson,
  type UpdateSecretResponseJson,
} from '@platform/contracts';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { table } from '../output';
import { type PlatformClient } from '../platform-client';

const customerOption = {
  customer: { type: 'string', description: "the customer organization's own secret instead of the vendor's" },
} as const;

function customerOf(context: CommandContext): { customerOrganizationId?: string } {
  const customer = context.values.customer;
  return typeof customer === 'string' ? { customerOrganizationId: customer } : {};
}

function oneKey(context: CommandContext, name: string): string {
  if (context.args.length !== 1) throw usage(`${name} takes exactly one KEY`);
  return context.args[0];
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  // A trailing newline from `echo` or a file is not part of the value.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function scopeLabel(secret: SecretJson): string {
  return (secret as { customerOrganizationId?: string | null }).customerOrganizationId ?? 'vendor';
}

/** Whether a deployment's log showed the value: the current version (rotate it), or an earlier one; when. */
export function exposedLabel(secret: SecretJson): string {
  const exposure = secret.exposure;
  if (!exposure) return '';
  const when = `${exposure.firstSeenAt ?? ''}..${exposure.lastSeenAt ?? ''}`;
  return secret.exposed ? `yes ${when}` : `version ${exposure.version ?? ''} ${when}`;
}

function secretRows(secrets: readonly SecretJson[]): string[][] {
  return secrets.map((s) => [
    s.key ?? '',
    scopeLabel(s),
    String(s.version ?? ''),
    s.updatedAt ?? '',
    s.updatedBy ?? '',
    s.expiresAt ?? '',
    exposedLabel(s),
  ]);
}

const SECRET_HEADERS = ['KEY', 'SCOPE', 'VERSION', 'UPDATED', 'UPDATED BY', 'EXPIRES', 'EXPOSED'];

/** The `affectedDeployments` of an update or delete reply, or of a refused delete's details; absent reads as none. */
export interface Affected {
  readonly count: number;
  readonly deployments: ReadonlyArray<{
    deploymentId: string;
    customerOrganizationId: string | null;
    lastRenderedAt: string;
  }>;
}

/** Reads affected deployments from a reply or refusal, keeping only well-formed entries (they come off the wire). */
export function affectedOf(value: AffectedDeploymentsJson | Record<string, unknown> | undefined): Affected {
  const deployments = (Array.isArray(value?.deployments) ? (value.deployments as unknown[]) : [])
    .filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null)
    .filter((d) => typeof d.deploymentId === 'string')
    .map((d) => ({
      deploymentId: d.deploymentId as string,
      customerOrganizationId: typeof d.customerOrganizationId === 'string' ? d.customerOrganizationId : null,
      lastRenderedAt: typeof d.lastRenderedAt === 'string' ? d.lastRenderedAt : '',
    }));
  const count = typeof value?.count === 'number' ? value.count : deployments.length;
  return { count, deployments };
}

/** `3 deployments` / `1 deployment`. */
export function deploymentCount(count: number): string {
  return `${count} deployment${count === 1 ? '' : 's'}`;
}

/** `runs` for one, `run` for several. */
const runs = (count: number) => (count === 1 ? 'runs' : 'run');

/** The deployments as a table, with a line for those past the first page. */
export function affectedTable(affected: Affected, key: string): string {
  const rows = affected.deployments.map((d) => [
    d.deploymentId,
    d.customerOrganizationId ?? 'vendor',
    d.lastRenderedAt,
  ]);
  const more = affected.count - affected.deployments.length;
  return [
    table(['DEPLOYMENT', 'SCOPE', 'LAST RENDERED'], rows),
    ...(more > 0 ? [`… and ${more} more (secrets deployments --key ${key})`] : []),
  ].join('\n');
}

/** Every page of `secrets.v1.list`. */
export async function listAllSecrets(client: PlatformClient, customerOrganizationId?: string): Promise<SecretJson[]> {
  const secrets: SecretJson[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.request<ListSecretsResponseJson>('secrets.v1.list', {
      ...(customerOrganizationId ? { customerOrganizationId } : {}),
      pageSize: 1000,
      ...(pageToken ? { pageToken } : {}),
    });
    secrets.push(...(page.secrets ?? []));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return secrets;
}

export const setCommand: Command = {
  path: ['set'],
  usage: 'set KEY VALUE|- [--customer ID] [--expires RFC3339]',
  summary: 'Creates a secret, or updates its value if it exists. A VALUE of - reads the value from stdin.',
  details:
    'Prefer `-` so values stay out of shell history: `printf %s "$VALUE" | secrets set API_KEY -`. ' +
    '--expires 2027-01-31T00:00:00Z: the value expires then (renders refuse it after); without it, it never does.',
  options: {
    ...customerOption,
    expires: {
      type: 'string',
      description: 'RFC 3339 time (in the future) when this value expires; without it, never',
    },
  },
  async run(context) {
    if (context.args.length !== 2) throw usage('set takes KEY and VALUE (or - to read the value from stdin)');
    const [key, given] = context.args;
    const value = given === '-' ? await readStdin(context.stdin) : given;
    const client = await context.client();
    const expires = context.values.expires;
    const body = { key, value, ...customerOf(context), ...(typeof expires === 'string' ? { expiresAt: expires } : {}) };
    let secret: SecretJson | UpdateSecretResponseJson;
    let affected: Affected | undefined;
    try {
      secret = await client.request<SecretJson>('secrets.v1.create', body);
    } catch (error) {
      if (!(error instanceof CliError) || !error.message.startsWith('ALREADY_EXISTS')) throw error;
      const updated = await client.request<UpdateSecretResponseJson>('secrets.v1.update', body);
      secret = updated;
      affected = affectedOf(updated.affectedDeployments);
    }
    if (context.output.json) {
      context.output.out(JSON.stringify(secret));
      return;
    }
    const done = `${affected ? 'updated' : 'created'} ${secret.key} (${scopeLabel(secret)}), version ${secret.version}`;
    if (!affected) return void context.output.out(done);
    context.output.out(
      affected.count === 0
        ? `${done}; no deployment affected`
        : `${done}; ${deploymentCount(affected.count)} ${runs(affected.count)} an older value until redeployed ` +
            `(secrets deployments --stale --key ${key})`,
    );
  },
};

export const getCommand: Command = {
  path: ['get'],
  usage: 'get KEY [--customer ID]',
  summary: "Shows a secret's metadata. Values are never shown.",
  options: customerOption,
  async run(context) {
    const key = oneKey(context, 'get');
    const secret = await (
      await context.client()
    ).request<SecretJson>('secrets.v1.get', { key, ...customerOf(context) });
    context.output.out(context.output.json ? JSON.stringify(secret) : table(SECRET_HEADERS, secretRows([secret])));
  },
};

export const listCommand: Command = {
  path: ['list'],
  usage: 'list [--customer ID]',
  summary: 'Lists secret keys and metadata (never values).',
  options: customerOption,
  async run(context) {
    if (context.args.length > 0) throw usage('list takes no arguments');
    const secrets = await listAllSecrets(await context.client(), customerOf(context).customerOrganizationId);
    context.output.out(context.output.json ? JSON.stringify({ secrets }) : table(SECRET_HEADERS, secretRows(secrets)));
  },
};

async function confirm(context: CommandContext, question: string): Promise<boolean> {
  if (!context.stdin.isTTY) return false;
  context.output.err(`${question} [y/N] `);
  for await (const chunk of context.stdin) {
    return /^y(es)?$/i.test(String(chunk).trim());
  }
  return false;
}

export const deleteCommand: Command = {
  path: ['delete'],
  usage: 'delete KEY [--customer ID] [--yes] [--force]',
  summary:
    'Deletes a secret (asks first unless --yes). Refused while live deployments use it, which it lists, ' +
    'unless --force; those deployments will fail to render.',
  details: 'A deployment that is gone stops counting once forgotten: `secrets deployments forget D [--customer ID]`.',
  options: {
    ...customerOption,
    yes: { type: 'boolean', short: 'y', description: 'delete without asking' },
    force: { type: 'boolean', description: 'delete even while live deployments use the key' },
  },
  async run(context) {
    const key = oneKey(context, 'delete');
    if (!context.values.yes && !(await confirm(context, `Delete ${key}?`))) {
      throw new CliError(`not deleted: confirm with --yes`, EXIT.USAGE);
    }
    const force = context.values.force === true;
    let reply: DeleteSecretResponseJson;
    try {
      reply = await (
        await context.client()
      ).request<DeleteSecretResponseJson>('secrets.v1.delete', {
        key,
        ...customerOf(context),
        ...(force ? { force } : {}),
      });
    } catch (error) {
      if (!(error instanceof CliError) || error.wire?.code !== 'FAILED_PRECONDITION') throw error;
      const inUse = affectedOf(error.wire.details);
      context.output.out(
        context.output.json ? JSON.stringify({ affectedDeployments: inUse }) : affectedTable(inUse, key),
      );
      throw new CliError(
        `not deleted: ${deploymentCount(inUse.count)} still ${inUse.count === 1 ? 'uses' : 'use'} ${key}; ` +
          'redeploy or forget them ' +
          `(secrets deployments forget D), or delete with --force`,
        EXIT.REFUSED,
        error.wire,
      );
    }
    if (context.output.json) return void context.output.out(JSON.stringify(reply));
    const affected = affectedOf(reply.affectedDeployments);
    context.output.out(
      [
        `deleted ${reply.key}, version ${reply.version}`,
        ...(affected.count > 0
          ? [
              `${deploymentCount(affected.count)} still ${runs(affected.count)} the deleted value:`,
              affectedTable(affected, key),
            ]
          : []),
      ].join('\n'),
    );
  },
};

export const historyCommand: Command = {
  path: ['history'],
  usage: 'history KEY [--customer ID]',
  summary: "Lists a secret's versions: who changed it and when (never values).",
  options: customerOption,
  async run(context) {
    const key = oneKey(context, 'history');
    const reply = await (
      await context.client()
    ).request<GetSecretHistoryResponseJson>('secrets.v1.history', { key, ...customerOf(context) });
    const rows = (reply.versions ?? []).map((v) => [
      v.type === 'SecretVersionsDestroyed' ? '-' : String(v.version),
      v.type === 'SecretVersionsDestroyed'
        ? `${v.type} ${(v.destroyedVersions ?? []).join(',')}`
        : `${v.type ?? ''}${v.destroyed ? ' (destroyed)' : ''}`,
      v.occurredAt ?? '',
      v.actor?.sub ?? '',
      v.fromVersion === undefined ? '' : String(v.fromVersion),
      v.expiresAt ?? '',
    ]);
    context.output.out(
      context.output.json ? JSON.stringify(reply) : table(['VERSION', 'CHANGE', 'AT', 'BY', 'FROM', 'EXPIRES'], rows),
    );
  },
};
