import { Readable } from 'node:stream';
import { CliError, EXIT, exitCodeForWireCode } from '../cli-error';
import { type CommandContext } from '../command';
import { type PlatformClient } from '../platform-client';
import { affectedOf, deleteCommand, setCommand } from './secrets.commands';

interface Sent {
  subject: string;
  body: Record<string, unknown>;
}

/** A command context whose client answers each subject with `answer` (a reply, or a thrown refusal). */
function contextFor(
  args: string[],
  values: CommandContext['values'],
  answer: (subject: string, body: Record<string, unknown>) => unknown,
  json = false,
) {
  const sent: Sent[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const client = {
    request: (subject: string, body: Record<string, unknown>) => {
      sent.push({ subject, body });
      return Promise.resolve().then(() => answer(subject, body));
    },
  } as unknown as PlatformClient;
  const context: CommandContext = {
    args,
    values,
    output: { json, out: (text) => void out.push(text), err: (text) => void err.push(text) },
    client: () => Promise.resolve(client),
    env: {},
    stdin: Object.assign(Readable.from([]), { isTTY: false }),
  };
  return { context, sent, out, err };
}

const WEB = { deploymentId: 'web', customerOrganizationId: null, lastRenderedAt: '2026-12-06T10:00:00.000Z' };
const SHOP = { deploymentId: 'shop', customerOrganizationId: 'globex', lastRenderedAt: '2026-12-06T11:00:00.000Z' };

/** What the platform client throws for the service's FAILED_PRECONDITION reply. */
const inUse = (count: number, deployments: unknown[]) =>
  new CliError('FAILED_PRECONDITION: secret "DB_PASSWORD" is used by live deployments', EXIT.REFUSED, {
    code: 'FAILED_PRECONDITION',
    details: { key: 'DB_PASSWORD', count, deployments },
  });

const deleted = (affectedDeployments: unknown) => ({
  key: 'DB_PASSWORD',
  version: 3,
  deletedAt: '2026-12-06T12:00:00Z',
  affectedDeployments,
});

describe('secrets delete', () => {
  it('deletes a key nobody deployed as before: no force sent, no deployments shown', async () => {
    const { context, sent, out } = contextFor(['DB_PASSWORD'], { yes: true }, () =>
      deleted({ count: 0, deployments: [] }),
    );
    await deleteCommand.run(context);
    expect(sent).toEqual([{ subject: 'secrets.v1.delete', body: { key: 'DB_PASSWORD' } }]);
    expect(out).toEqual(['deleted DB_PASSWORD, version 3']);
  });

  it('still asks first: without --yes and without a terminal nothing is sent', async () => {
    const { context, sent } = contextFor(['DB_PASSWORD'], { force: true }, () => deleted({ count: 0 }));
    await expect(deleteCommand.run(context)).rejects.toMatchObject({ exitCode: EXIT.USAGE });
    expect(sent).toEqual([]);
  });

  it('shows the deployments that use the key and exits 5, asking for --force', async () => {
    const { context, sent, out } = contextFor(['DB_PASSWORD'], { yes: true }, () => {
      throw inUse(3, [WEB, SHOP]);
    });
    const refusal = deleteCommand.run(context);
    await expect(refusal).rejects.toBeInstanceOf(CliError);
    await expect(refusal).rejects.toMatchObject({
      exitCode: EXIT.REFUSED,
      message: expect.stringMatching(/^not deleted: 3 deployments still use DB_PASSWORD; .*--force/) as unknown,
    });
    expect(sent).toHaveLength(1);
    expect(out).toHaveLength(1);
    expect(out[0].split('\n')).toEqual([
      'DEPLOYMENT  SCOPE   LAST RENDERED',
      'web         vendor  2026-12-06T10:00:00.000Z',
      'shop        globex  2026-12-06T11:00:00.000Z',
      '… and 1 more (secrets deployments --key DB_PASSWORD)',
    ]);
  });

  it('with --json, prints the refusal details as JSON', async () => {
    const { context, out } = contextFor(
      ['DB_PASSWORD'],
      { yes: true },
      () => {
        throw inUse(1, [SHOP]);
      },
      true,
    );
    await expect(deleteCommand.run(context)).rejects.toMatchObject({ exitCode: EXIT.REFUSED });
    expect(JSON.parse(out[0])).toEqual({ affectedDeployments: { count: 1, deployments: [SHOP] } });
  });

  it('passes other refusals on unchanged', async () => {
    const notFound = new CliError('NOT_FOUND: secret "DB_PASSWORD" not found', EXIT.NOT_FOUND, { code: 'NOT_FOUND' });
    const { context, out } = contextFor(['DB_PASSWORD'], { yes: true }, () => {
      throw notFound;
    });
    await expect(deleteCommand.run(context)).rejects.toBe(notFound);
    expect(out).toEqual([]);
  });

  it('with --force sends force and lists the deployments that still run the deleted value', async () => {
    const { context, sent, out } = contextFor(['DB_PASSWORD'], { yes: true, force: true, customer: 'globex' }, () =>
      deleted({ count: 1, deployments: [SHOP] }),
    );
    await deleteCommand.run(context);
    expect(sent).toEqual([
      { subject: 'secrets.v1.delete', body: { key: 'DB_PASSWORD', customerOrganizationId: 'globex', force: true } },
    ]);
    expect(out[0].split('\n')).toEqual([
      'deleted DB_PASSWORD, version 3',
      '1 deployment still runs the deleted value:',
      'DEPLOYMENT  SCOPE   LAST RENDERED',
      'shop        globex  2026-12-06T11:00:00.000Z',
    ]);
  });
});

describe('secrets set', () => {
  const secret = { key: 'DB_PASSWORD', organizationId: 'acme', customerOrganizationId: null, version: 2 };
  const alreadyExists = new CliError('ALREADY_EXISTS: secret exists', EXIT.REFUSED, { code: 'ALREADY_EXISTS' });
  const updating = (affectedDeployments: unknown) => (subject: string) => {
    if (subject === 'secrets.v1.create') throw alreadyExists;
    return { ...secret, affectedDeployments };
  };

  it('says how many deployments an update affects', async () => {
    const { context, sent, out } = contextFor(
      ['DB_PASSWORD', 'n3w'],
      {},
      updating({ count: 2, deployments: [WEB, SHOP] }),
    );
    await setCommand.run(context);
    expect(sent.map((s) => s.subject)).toEqual(['secrets.v1.create', 'secrets.v1.update']);
    expect(out).toEqual([
      'updated DB_PASSWORD (vendor), version 2; 2 deployments run an older value until redeployed ' +
        '(secrets deployments --stale --key DB_PASSWORD)',
    ]);
  });

  it('says when an update affects no deployment', async () => {
    const { context, out } = contextFor(['DB_PASSWORD', 'n3w'], {}, updating({ count: 0, deployments: [] }));
    await setCommand.run(context);
    expect(out).toEqual(['updated DB_PASSWORD (vendor), version 2; no deployment affected']);
  });

  it('includes the affected deployments in --json', async () => {
    const { context, out } = contextFor(['DB_PASSWORD', 'n3w'], {}, updating({ count: 1, deployments: [SHOP] }), true);
    await setCommand.run(context);
    expect(JSON.parse(out[0])).toEqual({ ...secret, affectedDeployments: { count: 1, deployments: [SHOP] } });
  });

  it('prints a create as before', async () => {
    const { context, out } = contextFor(['DB_PASSWORD', 'n3w'], {}, () => ({ ...secret, version: 1 }));
    await setCommand.run(context);
    expect(out).toEqual(['created DB_PASSWORD (vendor), version 1']);
  });
});

describe('affectedOf', () => {
  it('keeps only well-formed deployments, and reads an absent list as none', () => {
    expect(affectedOf(undefined)).toEqual({ count: 0, deployments: [] });
    expect(affectedOf({ count: 4, deployments: [WEB, null, 'shop', { customerOrganizationId: 'x' }] })).toEqual({
      count: 4,
      deployments: [WEB],
    });
  });
});

describe('exit codes', () => {
  it('maps FAILED_PRECONDITION to 5 (refused)', () => {
    expect(exitCodeForWireCode('FAILED_PRECONDITION')).toBe(EXIT.REFUSED);
  });
});
