import {
  type DeleteSecretResponseJson,
  type GetSecretHistoryResponseJson,
  type ListSecretsResponseJson,
  type SecretJson,
} from '@platform/contracts';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { table } from '../output';
import { type PlatformClient } from '../platform-client';

const customerOption = { customer: { type: 'string' } } as const;

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

function secretRows(secrets: readonly SecretJson[]): string[][] {
  return secrets.map((s) => [
    s.key ?? '',
    scopeLabel(s),
    String(s.version ?? ''),
    s.updatedAt ?? '',
    s.updatedBy ?? '',
  ]);
}

const SECRET_HEADERS = ['KEY', 'SCOPE', 'VERSION', 'UPDATED', 'UPDATED BY'];

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
  usage: 'set KEY VALUE|- [--customer ID]',
  summary: 'Creates a secret, or updates its value if it exists. A VALUE of - reads the value from stdin.',
  details: 'Prefer `-` so values stay out of shell history: `printf %s "$VALUE" | secrets set API_KEY -`.',
  options: customerOption,
  async run(context) {
    if (context.args.length !== 2) throw usage('set takes KEY and VALUE (or - to read the value from stdin)');
    const [key, given] = context.args;
    const value = given === '-' ? await readStdin(context.stdin) : given;
    const client = await context.client();
    const body = { key, value, ...customerOf(context) };
    let secret: SecretJson;
    let action = 'created';
    try {
      secret = await client.request<SecretJson>('secrets.v1.create', body);
    } catch (error) {
      if (!(error instanceof CliError) || !error.message.startsWith('ALREADY_EXISTS')) throw error;
      secret = await client.request<SecretJson>('secrets.v1.update', body);
      action = 'updated';
    }
    context.output.out(
      context.output.json
        ? JSON.stringify(secret)
        : `${action} ${secret.key} (${scopeLabel(secret)}), version ${secret.version}`,
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
  usage: 'delete KEY [--customer ID] [--yes]',
  summary: 'Deletes a secret (asks first unless --yes). Deployments that use it will fail to render.',
  options: { ...customerOption, yes: { type: 'boolean', short: 'y' } },
  async run(context) {
    const key = oneKey(context, 'delete');
    if (!context.values.yes && !(await confirm(context, `Delete ${key}?`))) {
      throw new CliError(`not deleted: confirm with --yes`, EXIT.USAGE);
    }
    const reply = await (
      await context.client()
    ).request<DeleteSecretResponseJson>('secrets.v1.delete', { key, ...customerOf(context) });
    context.output.out(context.output.json ? JSON.stringify(reply) : `deleted ${reply.key}, version ${reply.version}`);
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
      String(v.version),
      v.type ?? '',
      v.occurredAt ?? '',
      v.actor?.sub ?? '',
    ]);
    context.output.out(context.output.json ? JSON.stringify(reply) : table(['VERSION', 'CHANGE', 'AT', 'BY'], rows));
  },
};
