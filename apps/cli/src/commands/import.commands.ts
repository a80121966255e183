import { readFileSync } from 'node:fs';
import { type RenderResponseJson, type SecretJson, type UpdateSecretResponseJson } from '@platform/contracts';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { type DotenvEntry, DotenvError, parseDotenv } from '../dotenv';
import { type PlatformClient } from '../platform-client';
import { keysInScope, orgTypeOf } from './render.commands';
import { affectedOf, deploymentCount, listAllSecrets } from './secrets.commands';

/** Keep each comparing render well under a default NATS max_payload (1 MB) however large the values. */
const COMPARE_BATCH_BYTES = 256 * 1024;

function customerOf(context: CommandContext): string | undefined {
  return typeof context.values.customer === 'string' ? context.values.customer : undefined;
}

/** A customer user writes and reads only its own scope; the server enforces it, this only picks the listed keys. */
function isCustomerUser(context: CommandContext): boolean {
  return orgTypeOf((context.values.token as string | undefined) ?? context.env.SECRETS_TOKEN) === 'customer';
}

function readDotenv(path: string): DotenvEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`cannot read ${path}`, EXIT.USAGE);
  }
  try {
    return parseDotenv(text);
  } catch (error) {
    if (error instanceof DotenvError) throw new CliError(`${path} ${error.message}; nothing imported`, EXIT.REFUSED);
    throw error;
  }
}

type Plan = 'create' | 'update' | 'unchanged';

interface PlannedEntry extends DotenvEntry {
  readonly plan: Plan;
  /** The version compared against, for an update (refused with VERSION_CONFLICT if it moved since). */
  readonly expectedVersion?: number;
}

/** The keys that live in the scope written: the customer's own with --customer (or as a customer user), else vendor-level. */
function versionsInScope(secrets: readonly SecretJson[], customer: string | undefined, customerUser: boolean) {
  const versions = new Map<string, number>();
  for (const secret of secrets) {
    const owner = (secret as { customerOrganizationId?: string | null }).customerOrganizationId ?? null;
    if (customerUser || owner === (customer ?? null)) versions.set(secret.key ?? '', secret.version ?? 0);
  }
  return versions;
}

/**
 * Tells changed from unchanged values by rendering the existing keys' values to this process (as `secrets run` does,
 * so only a caller that may read values can import) and comparing here; nothing is printed.
 */
async function plan(
  client: PlatformClient,
  entries: readonly DotenvEntry[],
  customer: string | undefined,
  customerUser: boolean,
): Promise<PlannedEntry[]> {
  const listed = await listAllSecrets(client, customer);
  const existing = versionsInScope(listed, customer, customerUser);
  const ownScope = customer || customerUser ? 'customer' : 'vendor';
  const current = new Map<string, { value: string; version: number }>();
  const toCompare = entries.filter((e) => existing.has(e.key));
  for (let start = 0; start < toCompare.length;) {
    let bytes = 0;
    let end = start;
    while (end < toCompare.length && (end === start || bytes + toCompare[end].value.length < COMPARE_BATCH_BYTES)) {
      bytes += toCompare[end].value.length;
      end++;
    }
    const keys = toCompare.slice(start, end).map((e) => e.key);
    const reply = await client.request<RenderResponseJson>('render.v1.render', {
      template: `{${keys.map((k) => `${JSON.stringify(k)}:{{ toJson (index .Secrets ${JSON.stringify(k)}) }}`).join(',')}}`,
      format: 'text',
      ...(customer ? { customerOrganizationId: customer } : {}),
    });
    const malformed = () => new CliError('render did not return the current values as JSON; nothing imported');
    let values: unknown;
    try {
      values = JSON.parse(reply.output ?? '');
    } catch {
      // JSON.parse's message would quote the output, which holds values.
      throw malformed();
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw malformed();
    const versionOf = new Map(
      (reply.references ?? []).filter((r) => r.scope === ownScope).map((r) => [r.key ?? '', r.version ?? 0]),
    );
    for (const key of keys) {
      const value = Object.hasOwn(values, key) ? (values as Record<string, unknown>)[key] : undefined;
      const version = versionOf.get(key);
      if (typeof value === 'string' && version !== undefined) current.set(key, { value, version });
    }
    start = end;
  }
  return entries.map((entry) => {
    if (!existing.has(entry.key)) return { ...entry, plan: 'create' };
    const now = current.get(entry.key);
    if (now?.value === entry.value) return { ...entry, plan: 'unchanged' };
    return { ...entry, plan: 'update', expectedVersion: now?.version ?? existing.get(entry.key) };
  });
}

export const importCommand: Command = {
  path: ['import'],
  usage: 'import FILE [--customer ID] [--dry-run]',
  summary: 'Creates or updates one secret per KEY=VALUE line of a .env file; values are never printed.',
  details:
    'dotenv syntax: `export ` prefixes, # comments, blank lines, single quotes (literal), double quotes (escapes\n' +
    '\\n \\r \\t \\" \\\\ \\$), quoted values over several lines; an unquoted value ends at ` #`; ${VAR} is not expanded.\n' +
    'A bad line (invalid or repeated key, empty value, unclosed quote) stops the import before any write, naming\n' +
    'the line (exit 5). Keys already in the scope are compared by value (read through render, as `secrets run`\n' +
    'reads them, so the audit trail records the read); unchanged ones are not written. --dry-run writes nothing\n' +
    'and says what would be created and updated.',
  options: {
    customer: { type: 'string', description: "import into this customer organization's scope" },
    'dry-run': { type: 'boolean', description: 'write nothing; say what would be created, updated or left unchanged' },
  },
  async run(context) {
    if (context.args.length !== 1) throw usage('import takes one FILE');
    const file = context.args[0];
    const entries = readDotenv(file);
    const customer = customerOf(context);
    const dryRun = context.values['dry-run'] === true;
    const client = await context.client();
    const planned = await plan(client, entries, customer, isCustomerUser(context));
    const done = { created: [] as string[], updated: [] as string[], unchanged: [] as string[] };
    const affected = new Set<string>();
    const say = (line: string) => void (context.output.json ? undefined : context.output.out(line));
    for (const entry of planned) {
      if (entry.plan === 'unchanged') {
        done.unchanged.push(entry.key);
        continue;
      }
      if (dryRun) {
        say(`would ${entry.plan} ${entry.key} (line ${entry.line})`);
        (entry.plan === 'create' ? done.created : done.updated).push(entry.key);
        continue;
      }
      const body = {
        key: entry.key,
        value: entry.value,
        ...(customer ? { customerOrganizationId: customer } : {}),
        ...(entry.plan === 'update' && entry.expectedVersion ? { expectedVersion: entry.expectedVersion } : {}),
      };
      try {
        if (entry.plan === 'create') {
          const secret = await client.request<SecretJson>('secrets.v1.create', body);
          say(`created ${entry.key}, version ${secret.version}`);
          done.created.push(entry.key);
        } else {
          const secret = await client.request<UpdateSecretResponseJson>('secrets.v1.update', body);
          for (const d of affectedOf(secret.affectedDeployments).deployments) {
            affected.add(`${d.customerOrganizationId ?? ''}/${d.deploymentId}`);
          }
          say(`updated ${entry.key}, version ${secret.version}`);
          done.updated.push(entry.key);
        }
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        const written = done.created.length + done.updated.length;
        throw new CliError(
          `${error.message} (writing ${entry.key} from line ${entry.line}; ${written} written before it, ` +
            'the rest not; run the import again once fixed)',
          error.exitCode,
          error.wire,
        );
      }
    }
    if (context.output.json) {
      return void context.output.out(JSON.stringify({ dryRun, ...done }));
    }
    const counts =
      `${done.created.length} ${dryRun ? 'to create' : 'created'}, ` +
      `${done.updated.length} ${dryRun ? 'to update' : 'updated'}, ${done.unchanged.length} unchanged`;
    say(dryRun ? `dry run: ${counts}; nothing written` : counts);
    if (affected.size > 0) {
      say(`${deploymentCount(affected.size)} run older values until redeployed (secrets deployments --stale)`);
    }
  },
};

export const exportCommand: Command = {
  path: ['export'],
  usage: 'export --template [--customer ID]',
  summary: 'Prints an env template: KEY={{ .Secrets.KEY }} for every key of the scope, sorted (never values).',
  details:
    "With --customer, the keys a render for that customer sees: vendor-level and the customer's own.\n" +
    'Example: secrets export --template > deploy/app.env && secrets render deploy/app.env --format env',
  options: {
    customer: { type: 'string', description: 'the keys a render for this customer sees (vendor-level and its own)' },
    template: { type: 'boolean', description: 'print KEY={{ .Secrets.KEY }} lines (the only export there is)' },
  },
  async run(context) {
    if (context.args.length > 0) throw usage('export takes no arguments');
    if (context.values.template !== true) {
      throw usage('export prints a template only (--template); values never leave the platform this way');
    }
    const customer = customerOf(context);
    const client = await context.client();
    const customerUser = isCustomerUser(context);
    const listed = await listAllSecrets(client, customer);
    const vendorLevel = customer && !customerUser ? await listAllSecrets(client) : [];
    const keys = keysInScope([...listed, ...vendorLevel], customer, customerUser);
    const template = keys.map((key) => `${key}={{ .Secrets.${key} }}\n`).join('');
    if (context.output.json) return void context.output.out(JSON.stringify({ keys, template }));
    if (keys.length === 0) context.output.err('secrets: no secrets in this scope; the template is empty');
    process.stdout.write(template);
  },
};
