import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_NAMES } from '@platform/config';
import { TokenVerifier } from '@platform/crypto';
import { type CommandContext } from '../command';
import { devTokenCommand } from './dev.commands';

const DEV_JWKS: unknown = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/dev/jwks.json'), 'utf8'));

/** Runs `secrets dev token` with these options; returns the token printed. */
async function devToken(values: CommandContext['values']): Promise<string> {
  const printed: string[] = [];
  const context = {
    args: [],
    values,
    output: { json: false, out: (text: string) => printed.push(text), err: () => undefined },
    client: () => Promise.reject(new Error('dev token works offline')),
    env: { NODE_ENV: 'development' },
    stdin: process.stdin,
  } as CommandContext;
  await devTokenCommand.run(context);
  return printed[0];
}

const verifierFor = (audience: string) =>
  TokenVerifier.fromJwks(DEV_JWKS, {
    policy: {
      audience,
      issuers: ['secrets-platform'],
      serviceScopes: new Map(SERVICE_NAMES.map((name) => [name, []])),
      maxUserLifetimeSeconds: 43_200,
      maxServiceLifetimeSeconds: 300,
    },
  });

describe('secrets dev token', () => {
  it('mints user and service tokens that every service accepts', async () => {
    const user = await devToken({ org: 'acme', role: 'read_write' });
    const service = await devToken({ org: 'deployer', scope: 'render:any' });
    for (const audience of SERVICE_NAMES) {
      const verifier = await verifierFor(audience);
      expect(await verifier.verify(user)).toMatchObject({ iss: 'secrets-platform', sub: 'read_write@acme' });
      expect(await verifier.verify(service)).toMatchObject({ sub: 'service:deployer', scope: 'render:any' });
    }
  });

  it("keeps lifetimes within the services' default caps and refuses a sub of the other kind", async () => {
    await expect(devToken({ org: 'acme', ttl: '43200' })).resolves.toBeDefined();
    await expect(devToken({ org: 'acme', ttl: '43201' })).rejects.toThrow('--ttl must be 1 to 43200 seconds');
    await expect(devToken({ org: 'ci', scope: 'render:any', ttl: '301' })).rejects.toThrow(
      '--ttl must be 1 to 300 seconds',
    );
    await expect(devToken({ org: 'acme', sub: 'service:render' })).rejects.toThrow(
      '--sub of a user must not start with service:',
    );
    await expect(devToken({ org: 'ci', scope: 'render:any', sub: 'ci' })).rejects.toThrow(
      '--sub of a service must be service:NAME',
    );
  });
});
