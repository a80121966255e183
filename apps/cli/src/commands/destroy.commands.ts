import { type DestroySecretVersionsResponseJson } from '@platform/contracts';
import { EXIT, usage } from '../cli-error';
import { type Command } from '../command';

const VERSIONS = /^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9})*$/;

function versionsOf(value: unknown): number[] {
  if (typeof value !== 'string' || !VERSIONS.test(value)) {
    throw usage('--versions takes a comma-separated list of versions, such as 1,2');
  }
  return value.split(',').map(Number);
}

export const destroyCommand: Command = {
  path: ['destroy'],
  usage: 'destroy KEY --versions 1,2 [--customer ID] --yes',
  summary:
    "Admins: destroys earlier versions' values for good (history keeps them, marked destroyed); " +
    'never the current value.',
  options: {
    customer: { type: 'string', description: "the customer organization's own secret instead of the vendor's" },
    versions: { type: 'string', description: 'comma-separated earlier versions whose values to destroy, e.g. 1,2' },
    yes: { type: 'boolean', description: 'confirm: the values are destroyed for good' },
  },
  async run(context) {
    if (context.args.length !== 1) throw usage('destroy takes exactly one KEY');
    const key = context.args[0];
    const versions = versionsOf(context.values.versions);
    if (!context.values.yes) {
      throw usage(
        `destroying versions ${versions.join(', ')} of ${key} loses their values for good; repeat with --yes`,
      );
    }
    const customer = context.values.customer;
    const reply = await (
      await context.client()
    ).request<DestroySecretVersionsResponseJson>('secrets.v1.destroy', {
      key,
      versions,
      ...(typeof customer === 'string' ? { customerOrganizationId: customer } : {}),
    });
    context.output.out(
      context.output.json
        ? JSON.stringify(reply)
        : `destroyed ${reply.key} version${versions.length === 1 ? '' : 's'} ${(reply.versions ?? []).join(', ')}`,
    );
    return EXIT.OK;
  },
};
