import { type ForgetDeploymentResponseJson, type ListDeploymentsResponseJson } from '@platform/contracts';
import { usage } from '../cli-error';
import { type Command, type CommandContext } from '../command';
import { table } from '../output';
import { type PlatformClient } from '../platform-client';

type DeploymentJson = NonNullable<ListDeploymentsResponseJson['deployments']>[number];
type ReferenceJson = NonNullable<DeploymentJson['references']>[number];

/** The filters of `secrets.v1.deployments` from the command line's options. */
export function deploymentsFilter(values: CommandContext['values']): Record<string, string | boolean> {
  const filter: Record<string, string | boolean> = {};
  if (typeof values.key === 'string') filter.key = values.key;
  if (typeof values.customer === 'string') filter.customerOrganizationId = values.customer;
  if (typeof values.deployment === 'string') filter.deploymentId = values.deployment;
  if (values.stale === true) filter.staleOnly = true;
  return filter;
}

/** `KEY vN` for a current reference, `KEY vN→vM` for an older one, `KEY vN (deleted)` for a deleted key. */
export function referenceLabel(reference: ReferenceJson): string {
  const received = `${reference.key ?? ''} v${reference.version ?? 0}`;
  if (reference.deleted) return `${received} (deleted)`;
  return (reference.latestVersion ?? 0) > (reference.version ?? 0)
    ? `${received}→v${reference.latestVersion}`
    : received;
}

export function deploymentRows(deployments: readonly DeploymentJson[]): string[][] {
  return deployments.map((d) => [
    d.deploymentId ?? '',
    (d.customerOrganizationId as string | null | undefined) ?? 'vendor',
    d.lastRenderedAt ?? '',
    d.requestedBy?.sub ?? '',
    d.stale ? 'yes' : 'no',
    (d.references ?? []).map(referenceLabel).join(', '),
  ]);
}

const HEADERS = ['DEPLOYMENT', 'SCOPE', 'LAST RENDER', 'REQUESTED BY', 'STALE', 'KEYS'];

/** Every page of `secrets.v1.deployments` with these filters. */
async function listAllDeployments(
  client: PlatformClient,
  filter: Record<string, string | boolean>,
): Promise<DeploymentJson[]> {
  const deployments: DeploymentJson[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.request<ListDeploymentsResponseJson>('secrets.v1.deployments', {
      ...filter,
      pageSize: 1000,
      ...(pageToken ? { pageToken } : {}),
    });
    deployments.push(...(page.deployments ?? []));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return deployments;
}

export const deploymentsCommand: Command = {
  path: ['deployments'],
  usage: 'deployments [--stale] [--key K] [--customer ID] [--deployment D]',
  summary: 'Lists deployments with the version of each key they received; --stale lists those to redeploy.',
  details:
    'A deployment is stale when a key it received has a newer version or was deleted (KEY v1→v2, KEY v1 (deleted)).',
  options: {
    stale: { type: 'boolean', description: 'only deployments that run an older version or a deleted key' },
    key: { type: 'string', description: 'only deployments that received this key' },
    customer: { type: 'string', description: "only this customer's deployments" },
    deployment: { type: 'string', description: 'only this deployment' },
  },
  async run(context) {
    if (context.args.length > 0) throw usage('deployments takes no arguments (did you mean `deployments forget D`?)');
    const deployments = await listAllDeployments(await context.client(), deploymentsFilter(context.values));
    context.output.out(
      context.output.json ? JSON.stringify({ deployments }) : table(HEADERS, deploymentRows(deployments)),
    );
  },
};

export const forgetDeploymentCommand: Command = {
  path: ['deployments', 'forget'],
  usage: 'deployments forget D [--customer ID]',
  summary: 'Records that a deployment is gone: it is no longer listed, live or stale (read_write or admin).',
  options: { customer: { type: 'string', description: 'the customer the deployment belongs to' } },
  async run(context) {
    if (context.args.length !== 1) throw usage('deployments forget takes exactly one deployment id');
    const customer = context.values.customer;
    const reply = await (
      await context.client()
    ).request<ForgetDeploymentResponseJson>('secrets.v1.forgetdeployment', {
      deploymentId: context.args[0],
      ...(typeof customer === 'string' ? { customerOrganizationId: customer } : {}),
    });
    const scope = (reply.customerOrganizationId as string | null | undefined) ?? 'vendor';
    context.output.out(
      context.output.json ? JSON.stringify(reply) : `forgot deployment ${reply.deploymentId} (${scope})`,
    );
  },
};
