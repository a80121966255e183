import type { SecretsOperations } from '../../../../services/secrets/src/ops';
import { CliError, EXIT, exitCodeForWireCode, usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';

// Loaded only when an ops command runs: the database layers add half a second to every other command's start.
const secretsOps = () => import('../../../../services/secrets/src/ops');
const auditOps = () => import('../../../../services/audit/src/ops');

/** How an ops failure maps to an exit code (apps/cli/README.md: the exit codes table); the message is already one line. */
async function opsFailure(error: unknown): Promise<CliError> {
  if (error instanceof CliError) return error;
  const [{ AuditError, AuditErrorCode }, { ConfigError }, { PlatformError }, { EventStoreError, EventStoreErrorCode }] =
    await Promise.all([
      auditOps(),
      import('@platform/config'),
      import('@platform/messaging'),
      import('@platform/event-store'),
    ]);
  const [{ CryptoError }, { CodedError }] = await Promise.all([
    import('@platform/crypto'),
    import('@platform/contracts'),
  ]);
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError) return new CliError(message, EXIT.USAGE);
  if (error instanceof PlatformError) return new CliError(`${error.code}: ${message}`, exitCodeForWireCode(error.code));
  if (error instanceof AuditError) {
    return new CliError(
      message,
      error.code === AuditErrorCode.STORE_UNAVAILABLE
        ? EXIT.UNAVAILABLE
        : error.code === AuditErrorCode.REBUILD_REFUSED
          ? EXIT.REFUSED
          : EXIT.FAILURE,
    );
  }
  // `outbox rebase` when there is nothing to re-base, or while an instance publishes: refused, nothing changed.
  if (error instanceof EventStoreError && error.code === EventStoreErrorCode.INVALID_ARGUMENT) {
    return new CliError(message, EXIT.REFUSED);
  }
  // `customer purge` while values of the customer still sit under a vendor-level key: refused, nothing changed.
  if (error instanceof CodedError && error.code === 'FAILED_PRECONDITION') {
    return new CliError(`${error.code}: ${message}`, EXIT.REFUSED);
  }
  // A data key under a master kid that is no longer configured, or bad key material: refused, nothing changed.
  if (error instanceof CryptoError) return new CliError(`${error.code}: ${message}`, EXIT.REFUSED);
  return new CliError(message, EXIT.FAILURE);
}

/** Ops commands work on the database directly (DATABASE_URL, SECRETS_MASTER_KEYS), not over NATS. */
async function withSecretsOperations<T>(
  context: CommandContext,
  run: (ops: SecretsOperations) => Promise<T>,
): Promise<T> {
  try {
    const { SecretsOperations, loadSecretsConfig } = await secretsOps();
    const ops = await SecretsOperations.open(loadSecretsConfig(context.env));
    try {
      return await run(ops);
    } finally {
      await ops.close();
    }
  } catch (error) {
    throw await opsFailure(error);
  }
}

function onlyArgs(context: CommandContext, count: number, usageText: string): void {
  if (context.args.length !== count) throw usage(`usage: secrets ${usageText}`);
}

async function organizationOf(value: unknown, what: string): Promise<string> {
  const { IDENTIFIER_PATTERN } = await import('@platform/messaging');
  if (typeof value !== 'string' || !IDENTIFIER_PATTERN.test(value)) {
    throw usage(`${what} must be an organization id such as acme (letters, digits, _ and -)`);
  }
  return value;
}

/** The result: JSON with --json, else the sentence. */
function report(context: CommandContext, result: object, text: string): number {
  context.output.out(context.output.json ? JSON.stringify(result) : text);
  return EXIT.OK;
}

export const OPS_COMMANDS: readonly Command[] = [
  {
    path: ['projections', 'rebuild'],
    usage: 'projections rebuild',
    summary:
      'Ops: truncates secret_view and deployment_index and replays every event into them (progress on stderr, events/s at the end).',
    async run(context) {
      onlyArgs(context, 0, 'projections rebuild');
      const { progressBar } = await secretsOps();
      const bar = progressBar('secret_view [{bar}] {percentage}% | {value}/{total} events | {speed} events/s');
      const started = performance.now();
      const rebuilt = await withSecretsOperations(context, (ops) =>
        ops.rebuildProjections((done, total) =>
          bar.update(done, total, {
            speed: Math.round(done / Math.max((performance.now() - started) / 1000, 0.001)),
          }),
        ),
      ).finally(() => bar.stop());
      const eventsPerSecond = Math.round(rebuilt.events / Math.max(rebuilt.seconds, 0.001));
      return report(
        context,
        {
          events: rebuilt.events,
          seconds: rebuilt.seconds,
          eventsPerSecond,
          deploymentIndex: rebuilt.deploymentIndex,
          secretExposure: rebuilt.secretExposure,
        },
        `rebuilt secret_view from ${rebuilt.events} events in ${rebuilt.seconds.toFixed(2)} s (${eventsPerSecond} events/s)\n` +
          `rebuilt deployment_index from ${rebuilt.deploymentIndex.events} events in ` +
          `${rebuilt.deploymentIndex.seconds.toFixed(2)} s\n` +
          `rebuilt secret_exposure from ${rebuilt.secretExposure.events} events in ` +
          `${rebuilt.secretExposure.seconds.toFixed(2)} s`,
      );
    },
  },
  {
    path: ['keys', 'rotate-master'],
    usage: 'keys rotate-master',
    summary:
      'Ops: rewraps every data key under the active (first) master key in SECRETS_MASTER_KEYS (progress on stderr).',
    async run(context) {
      onlyArgs(context, 0, 'keys rotate-master');
      const { progressBar } = await secretsOps();
      const bar = progressBar('rewrapping data keys [{bar}] {percentage}% | {value}/{total} data keys');
      const rewrapped = await withSecretsOperations(context, (ops) =>
        ops.rotateMasterKey((done, total) => bar.update(done, total)),
      ).finally(() => bar.stop());
      return report(context, { rewrapped }, `rewrapped ${rewrapped} data keys under the active master key`);
    },
  },
  {
    path: ['keys', 'rotate'],
    usage: 'keys rotate --org ORG [--customer CUSTOMER]',
    summary:
      "Ops: gives an organization's vendor level (or one customer) a new data key for new writes; old versions keep their keys.",
    options: {
      org: { type: 'string', description: 'the organization that gets a new data key' },
      customer: { type: 'string', description: "rotate this customer's own data key instead of the vendor level's" },
    },
    async run(context) {
      onlyArgs(context, 0, 'keys rotate --org ORG [--customer CUSTOMER]');
      const organizationId = await organizationOf(context.values.org, '--org');
      const customerOrganizationId =
        context.values.customer === undefined ? null : await organizationOf(context.values.customer, '--customer');
      const dataKeyId = await withSecretsOperations(context, (ops) =>
        ops.rotateOrganizationKey(organizationId, undefined, customerOrganizationId),
      );
      const scope =
        customerOrganizationId === null
          ? `organization ${organizationId}`
          : `customer ${customerOrganizationId} of ${organizationId}`;
      return report(
        context,
        { organizationId, ...(customerOrganizationId === null ? {} : { customerOrganizationId }), dataKeyId },
        `${scope}: new data key ${dataKeyId} for new writes`,
      );
    },
  },
  {
    path: ['values', 'rebind'],
    usage: 'values rebind',
    summary:
      'Ops: re-seals values written before ciphertexts were bound to their version and event (progress on stderr); ' +
      'afterwards SECRETS_UNBOUND_VALUES=refuse can be set.',
    async run(context) {
      onlyArgs(context, 0, 'values rebind');
      const { progressBar } = await secretsOps();
      const bar = progressBar('rebinding values [{bar}] {percentage}% | {value}/{total} values');
      const rebound = await withSecretsOperations(context, (ops) =>
        ops.rebindValues((done, total) => bar.update(done, total)),
      ).finally(() => bar.stop());
      return report(
        context,
        rebound,
        `rebound ${rebound.rebound} values to their version and event; ${rebound.unrecoverable} left (organization purged)`,
      );
    },
  },
  {
    path: ['org', 'purge'],
    usage: 'org purge ORG --yes',
    summary:
      'Ops: crypto-shreds an organization: deletes its data keys and read-model rows; events stay, values become unrecoverable.',
    options: { yes: { type: 'boolean', description: 'confirm: the values are destroyed for good' } },
    async run(context) {
      onlyArgs(context, 1, 'org purge ORG --yes');
      const organizationId = await organizationOf(context.args[0], 'ORG');
      if (!context.values.yes) throw usage(`purging ${organizationId} destroys its values for good; repeat with --yes`);
      const purged = await withSecretsOperations(context, (ops) => ops.purgeOrganization(organizationId));
      return report(
        context,
        { organizationId, ...purged },
        `purged ${organizationId}: ${purged.dataKeysDeleted} data keys deleted, ${purged.secretsRemoved} secrets removed from the read model; its events remain, their values unrecoverable`,
      );
    },
  },
  {
    path: ['customer', 'purge'],
    usage: 'customer purge ORG CUSTOMER --yes',
    summary:
      "Ops: crypto-shreds one customer of an organization: deletes the customer's data keys and read-model rows; " +
      'the vendor level and other customers are untouched; events stay, the values become unrecoverable.',
    details:
      'Refused while the customer has values sealed under the vendor-level key: run `secrets values rebind` first.',
    options: { yes: { type: 'boolean', description: "confirm: the customer's values are destroyed for good" } },
    async run(context) {
      onlyArgs(context, 2, 'customer purge ORG CUSTOMER --yes');
      const organizationId = await organizationOf(context.args[0], 'ORG');
      const customerOrganizationId = await organizationOf(context.args[1], 'CUSTOMER');
      if (!context.values.yes) {
        throw usage(
          `purging customer ${customerOrganizationId} of ${organizationId} destroys its values for good; repeat with --yes`,
        );
      }
      const purged = await withSecretsOperations(context, (ops) =>
        ops.purgeCustomer(organizationId, customerOrganizationId),
      );
      return report(
        context,
        { organizationId, customerOrganizationId, ...purged },
        `purged customer ${customerOrganizationId} of ${organizationId}: ${purged.dataKeysDeleted} data keys deleted, ` +
          `${purged.secretsRemoved} secrets removed from the read model; its events remain, their values unrecoverable`,
      );
    },
  },
  {
    path: ['outbox', 'rebase'],
    usage: 'outbox rebase',
    summary:
      'Ops: after a logical restore, re-bases the outbox checkpoint that is ahead of the database (refused otherwise).',
    async run(context) {
      onlyArgs(context, 0, 'outbox rebase');
      const { describeRebase } = await secretsOps();
      const rebased = await withSecretsOperations(context, (ops) => ops.rebaseOutbox());
      return report(context, rebased, describeRebase(rebased));
    },
  },
  {
    path: ['audit', 'rebuild'],
    usage: 'audit rebuild',
    summary:
      'Ops: empties the audit tables and re-applies SECRETS_EVENTS from sequence 1 (refused while the audit service runs).',
    details:
      'Needs DATABASE_URL and NATS read access to SECRETS_EVENTS (the `ops` user of deploy/nats/nats-server.conf).',
    async run(context) {
      onlyArgs(context, 0, 'audit rebuild');
      const { progressBar } = await secretsOps();
      const bar = progressBar('rebuilding audit trail [{bar}] {percentage}% | {value}/{total} stream sequences');
      let summary;
      try {
        const { migrateAuditDatabase, AuditStore, rebuildAuditTrail } = await auditOps();
        const [{ databaseSettings, loadServiceConfig, urlList }, { natsConnectionOptions }, { connect }] =
          await Promise.all([import('@platform/config'), import('@platform/messaging'), import('nats')]);
        const config = loadServiceConfig('audit', databaseSettings, context.env);
        await migrateAuditDatabase(config.databaseUrl);
        let nats;
        try {
          nats = await connect({
            servers: urlList(config.natsUrl),
            name: 'secrets-cli-audit-rebuild',
            maxReconnectAttempts: 0,
            ...natsConnectionOptions(config),
          });
        } catch {
          throw new CliError(`cannot reach NATS at ${config.natsUrl}`, EXIT.UNAVAILABLE);
        }
        const store = AuditStore.open(config.databaseUrl, { poolSize: 2 });
        try {
          summary = await rebuildAuditTrail({
            nats,
            subjectPrefix: config.subjectPrefix,
            store,
            onProgress: ({ total, applied }) => bar.update(applied, total),
          });
        } finally {
          bar.stop();
          await store.close();
          await nats.drain().catch(() => undefined);
        }
      } catch (error) {
        throw await opsFailure(error);
      }
      return report(
        context,
        summary,
        `rebuilt the audit trail: ${summary.events} events, ${summary.records} records, ` +
          `${summary.rejected} malformed skipped, through stream sequence ${summary.lastSequence}, ` +
          `in ${summary.seconds.toFixed(1)} s; the durable consumer continues at ${summary.lastSequence + 1}`,
      );
    },
  },
];
