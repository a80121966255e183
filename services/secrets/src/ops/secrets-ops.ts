// `npm run secrets -- <command>`: projections rebuild | keys rotate-master | keys rotate --org X | org purge X --yes |
// values rebind | outbox rebase
import { ConfigError } from '@platform/config';
import { assertIdentifier } from '@platform/messaging';
import { loadSecretsConfig } from '../secrets.definition';
import { SecretsOperations, describeRebase } from './secrets-operations';
import { progressBar } from './progress-bar';

const USAGE = `usage: secrets <command>
  projections rebuild          truncate secret_view and deployment_index and replay every event
  keys rotate-master           rewrap every data key under the active (first) master key (progress bar)
  keys rotate --org <org>      give an organization a new data key for new writes
  org purge <org> --yes        delete an organization's data keys and read-model rows (irreversible)
  values rebind                re-seal values of before #16 bound to their version and event (progress bar)
  outbox rebase                after a logical restore: re-base the outbox checkpoint that is ahead of the database`;

class UsageError extends Error {}

function organizationArgument(value: string | undefined): string {
  if (value === undefined) throw new UsageError('missing organization');
  assertIdentifier('organization', value);
  return value;
}

async function rebuild(ops: SecretsOperations): Promise<void> {
  const bar = progressBar('secret_view [{bar}] {percentage}% | {value}/{total} events | {speed} events/s');
  const started = performance.now();
  const report = await ops
    .rebuildProjections((done, total) =>
      bar.update(done, total, {
        speed: Math.round(done / Math.max((performance.now() - started) / 1000, 0.001)),
      }),
    )
    .finally(() => bar.stop());
  const rate = Math.round(report.events / Math.max(report.seconds, 0.001));
  process.stdout.write(
    `rebuilt secret_view from ${report.events} events in ${report.seconds.toFixed(2)} s (${rate} events/s)\n` +
      `rebuilt deployment_index from ${report.deploymentIndex.events} events in ` +
      `${report.deploymentIndex.seconds.toFixed(2)} s\n` +
      `rebuilt secret_exposure from ${report.secretExposure.events} events in ` +
      `${report.secretExposure.seconds.toFixed(2)} s\n`,
  );
}

async function rotateMaster(ops: SecretsOperations): Promise<void> {
  const bar = progressBar('rewrapping data keys [{bar}] {percentage}% | {value}/{total} data keys');
  const rewrapped = await ops.rotateMasterKey((done, total) => bar.update(done, total)).finally(() => bar.stop());
  process.stdout.write(`rewrapped ${rewrapped} data keys under the active master key\n`);
}

async function rebindValues(ops: SecretsOperations): Promise<void> {
  const bar = progressBar('rebinding values [{bar}] {percentage}% | {value}/{total} values');
  const report = await ops.rebindValues((done, total) => bar.update(done, total)).finally(() => bar.stop());
  process.stdout.write(
    `rebound ${report.rebound} values to their version and event; ${report.unrecoverable} left (organization purged)\n`,
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  const route = `${group ?? ''} ${command ?? ''}`.trim();
  const known = [
    'projections rebuild',
    'keys rotate-master',
    'keys rotate',
    'org purge',
    'values rebind',
    'outbox rebase',
  ];
  if (!known.includes(route)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const ops = await SecretsOperations.open(loadSecretsConfig());
  try {
    switch (route) {
      case 'projections rebuild':
        await rebuild(ops);
        break;
      case 'keys rotate-master':
        await rotateMaster(ops);
        break;
      case 'values rebind':
        await rebindValues(ops);
        break;
      case 'keys rotate': {
        const at = rest.indexOf('--org');
        const organization = organizationArgument(at >= 0 ? rest[at + 1] : undefined);
        const dataKeyId = await ops.rotateOrganizationKey(organization);
        process.stdout.write(`organization ${organization}: new data key ${dataKeyId} for new writes\n`);
        break;
      }
      case 'org purge': {
        const organization = organizationArgument(rest.find((arg) => !arg.startsWith('--')));
        if (!rest.includes('--yes')) {
          throw new UsageError(`purging ${organization} destroys its values for good; repeat with --yes`);
        }
        const report = await ops.purgeOrganization(organization);
        process.stdout.write(
          `purged ${organization}: ${report.dataKeysDeleted} data keys deleted, ${report.secretsRemoved} secrets removed from the read model; its events remain, their values unrecoverable\n`,
        );
        break;
      }
      case 'outbox rebase': {
        const rebased = await ops.rebaseOutbox();
        process.stdout.write(`${describeRebase(rebased)}\n`);
        break;
      }
    }
    return 0;
  } finally {
    await ops.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const known = error instanceof UsageError || error instanceof ConfigError;
      process.stderr.write(`secrets: ${error instanceof Error ? error.message : String(error)}\n`);
      if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}
