import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { type RenderResponseJson, type SecretJson, type ValidateTemplateResponseJson } from '@platform/contracts';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { listAllSecrets } from './secrets.commands';

const FORMATS = ['env', 'yaml', 'text'];

function readTemplate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`cannot read ${path}`, EXIT.USAGE);
  }
}

function formatOf(context: CommandContext, fallback: string): string {
  const format = (context.values.format as string | undefined) ?? fallback;
  if (!FORMATS.includes(format)) throw usage(`--format must be one of ${FORMATS.join(', ')}`);
  return format;
}

/** `--pin KEY=VERSION` options as the request's `pins`; null-prototype, since KEY is the user's (`toString`). */
export function pinsOf(options: readonly string[]): Record<string, number> {
  const pins = Object.create(null) as Record<string, number>;
  for (const pin of options) {
    const match = /^([A-Za-z][A-Za-z0-9_]*)=(\d+)$/.exec(pin);
    if (!match) throw usage(`--pin takes KEY=VERSION (got "${pin}")`);
    pins[match[1]] = Number(match[2]);
  }
  return pins;
}

function listOf(value: unknown): string[] {
  return typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

function customerOf(context: CommandContext): { customerOrganizationId?: string } {
  return typeof context.values.customer === 'string' ? { customerOrganizationId: context.values.customer } : {};
}

/** `--deployment D`: the deployment the values are for, recorded by secrets (audit, `secrets deployments`). */
export function deploymentOf(context: CommandContext): { deploymentId?: string } {
  return typeof context.values.deployment === 'string' ? { deploymentId: context.values.deployment } : {};
}

export const renderCommand: Command = {
  path: ['render'],
  usage: 'render FILE --format env|yaml|text [--customer ID] [--deployment D] [--pin KEY=VERSION …] [--allow-expired]',
  summary: "Renders a template with the scope's secrets and prints the result.",
  details: '--allow-expired (admin only) renders values past their expiry instead of failing.',
  options: {
    format: {
      type: 'string',
      description: 'env, yaml or text (default text); env and yaml are checked after rendering',
    },
    customer: { type: 'string', description: "render with this customer's secrets over the vendor's" },
    deployment: { type: 'string', description: 'the deployment this render is for (recorded in audit and the index)' },
    pin: {
      type: 'string',
      multiple: true,
      description: 'KEY=VERSION: render that version of KEY instead of the latest',
    },
    'allow-expired': { type: 'boolean', description: 'admin only: render values past their expiry' },
  },
  async run(context) {
    if (context.args.length !== 1) throw usage('render takes one FILE');
    const reply = await (
      await context.client()
    ).request<RenderResponseJson>('render.v1.render', {
      template: readTemplate(context.args[0]),
      format: formatOf(context, 'text'),
      ...customerOf(context),
      ...deploymentOf(context),
      pins: pinsOf((context.values.pin as string[] | undefined) ?? []),
      ...(context.values['allow-expired'] === true ? { allowExpired: true } : {}),
    });
    if (context.output.json) context.output.out(JSON.stringify(reply));
    else process.stdout.write(reply.output ?? '');
  },
};

export const validateCommand: Command = {
  path: ['validate'],
  usage: 'validate FILE [--format env|yaml|text] [--required A,B] [--customer ID]',
  summary: 'Checks a template and lists the secrets it needs that do not exist (exit 7 when any is missing).',
  details:
    'A key the template reads only where it checks it ({{ if .Secrets.K }}…{{ end }}, default) is optional: ' +
    'listed as such when not set, never missing.',
  options: {
    format: { type: 'string', description: 'env, yaml or text (default text)' },
    customer: { type: 'string', description: "check against this customer's secrets and the vendor's" },
    required: {
      type: 'string',
      description: 'comma-separated keys that must exist even if the template does not read them',
    },
  },
  async run(context) {
    if (context.args.length !== 1) throw usage('validate takes one FILE');
    const reply = await (
      await context.client()
    ).request<ValidateTemplateResponseJson>('render.v1.validate', {
      template: readTemplate(context.args[0]),
      format: formatOf(context, 'text'),
      ...customerOf(context),
      required: listOf(context.values.required),
    });
    if (context.output.json) context.output.out(JSON.stringify(reply));
    else {
      const references = (reply.references ?? []).map(
        (r) => `${r.key ?? ''} (${r.scope ?? ''}${r.version ? `, version ${r.version}` : ''})`,
      );
      const lines = [`references: ${references.join(', ') || '(none)'}`];
      if ((reply.missing ?? []).length > 0) lines.push(`missing: ${(reply.missing ?? []).join(', ')}`);
      const referenced = new Set((reply.references ?? []).map((r) => r.key));
      const unset = (reply.optional ?? []).filter((key) => !referenced.has(key));
      if (unset.length > 0) lines.push(`optional, not set (the template does without): ${unset.join(', ')}`);
      for (const error of reply.errors ?? []) lines.push(`error: ${error}`);
      lines.push(reply.valid ? 'valid' : 'invalid');
      context.output.out(lines.join('\n'));
    }
    if ((reply.missing ?? []).length > 0) return EXIT.MISSING_REQUIRED;
    return reply.valid ? EXIT.OK : EXIT.REFUSED;
  },
};

/** The unverified `org_type` claim: only to choose which listed keys belong to the caller's scope (the server enforces). */
export function orgTypeOf(token: string | undefined): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from((token ?? '').split('.')[1] ?? '', 'base64url').toString()) as {
      org_type?: string;
    };
    return payload.org_type;
  } catch {
    return undefined;
  }
}

export function keysInScope(
  secrets: readonly SecretJson[],
  customer: string | undefined,
  isCustomerUser: boolean,
): string[] {
  const ofScope = (s: SecretJson) => {
    const owner = (s as { customerOrganizationId?: string | null }).customerOrganizationId ?? null;
    return isCustomerUser || owner === null || owner === customer;
  };
  return [...new Set(secrets.filter(ofScope).map((s) => s.key ?? ''))].filter(Boolean).sort();
}

/** The CLI's own credentials: CMD gets none of them unless `--pass-token`. */
export const CREDENTIAL_VARIABLES: readonly string[] = [
  'SECRETS_TOKEN',
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_CREDS_FILE',
  'NATS_NKEY_SEED_FILE',
  'NATS_TLS_CERT_FILE',
  'NATS_TLS_KEY_FILE',
];

/**
 * The environment CMD runs with: the parent's without the CLI's credentials (unless `passToken`), then the
 * rendered `{KEY: value}` JSON over it. Null-prototype, because spawn copies inherited properties too and a
 * secret may be called `toString` or `constructor`.
 */
export function runEnvironment(
  parent: NodeJS.ProcessEnv,
  rendered: string,
  options: { passToken?: boolean } = {},
): NodeJS.ProcessEnv {
  const malformed = () => new CliError('render did not return the secrets as a JSON object of text values');
  let values: unknown;
  try {
    values = JSON.parse(rendered);
  } catch {
    // JSON.parse's message quotes the output, which holds the values.
    throw malformed();
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw malformed();
  const env = Object.assign(Object.create(null) as NodeJS.ProcessEnv, parent);
  if (!options.passToken) for (const name of CREDENTIAL_VARIABLES) delete env[name];
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') throw malformed();
    env[name] = value;
  }
  return env;
}

export const runCommand: Command = {
  path: ['run'],
  usage: 'run [--required A,B] [--customer ID] [--deployment D] [--pass-token] -- CMD [ARGS…]',
  summary:
    "Runs CMD with the scope's secrets as environment variables; refuses to start if a required secret is missing.",
  details:
    'Values are rendered through render.v1.render and handed to CMD only; they are never printed.\n' +
    `CMD does not get the CLI's credentials (${CREDENTIAL_VARIABLES.join(', ')}) unless --pass-token.`,
  options: {
    customer: { type: 'string', description: "the customer whose secrets (over the vendor's) CMD gets" },
    deployment: { type: 'string', description: 'the deployment CMD is (recorded in audit and the index)' },
    required: { type: 'string', description: 'comma-separated keys that must exist, else exit 7 before CMD starts' },
    'pass-token': {
      type: 'boolean',
      description: "also hand CMD the CLI's token (SECRETS_TOKEN) and NATS credentials",
    },
  },
  async run(context) {
    if (context.args.length === 0) throw usage('run needs a command after --');
    const [cmd, ...cmdArgs] = context.args;
    const client = await context.client();
    const required = listOf(context.values.required);
    const customer = customerOf(context).customerOrganizationId;
    if (required.length > 0) {
      const check = await client.request<ValidateTemplateResponseJson>('render.v1.validate', {
        template: '',
        format: 'text',
        ...customerOf(context),
        required,
      });
      const missing = check.missing ?? [];
      if (missing.length > 0) {
        throw new CliError(
          `missing required secret${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
          EXIT.MISSING_REQUIRED,
        );
      }
    }
    const isCustomerUser =
      orgTypeOf((context.values.token as string | undefined) ?? context.env.SECRETS_TOKEN) === 'customer';
    const listed = await listAllSecrets(client, customer);
    const extraVendorLevel = customer && !isCustomerUser ? await listAllSecrets(client) : [];
    const keys = [
      ...new Set([...keysInScope([...listed, ...extraVendorLevel], customer, isCustomerUser), ...required]),
    ];
    let rendered = '{}';
    if (keys.length > 0) {
      // JSON output keeps multi-line values intact (an env file would escape their newlines).
      const template = `{${keys.map((k) => `${JSON.stringify(k)}:{{ toJson .Secrets.${k} }}`).join(',')}}`;
      const reply = await client.request<RenderResponseJson>('render.v1.render', {
        template,
        format: 'text',
        ...customerOf(context),
        ...deploymentOf(context),
      });
      rendered = reply.output ?? '{}';
    }
    const passToken = context.values['pass-token'] === true;
    const env = runEnvironment(context.env, rendered, { passToken });
    // A token given with --token reaches CMD only when asked for, as SECRETS_TOKEN.
    if (passToken && typeof context.values.token === 'string') env.SECRETS_TOKEN = context.values.token;
    await client.close();
    return new Promise<number>((resolve) => {
      const child = spawn(cmd, cmdArgs, { stdio: 'inherit', env });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      child.on('error', () => {
        context.output.err(`secrets: cannot run ${cmd}`);
        resolve(127);
      });
      // As a shell reports it: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
    });
  },
};
