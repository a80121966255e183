// Issue 20, point 4: a CLI started while `npm run build` runs gets the old build or the new one, never half of one.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
/** This suite's own build directory beside dist/, so the shared dist/ is left alone. */
const OUT = `dist.e2e-${process.pid}`;
const TSCONFIG = `tsconfig.e2e-${process.pid}.json`;

interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function node(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const build = (env: Record<string, string> = {}) => node(['scripts/build.js'], { BUILD_OUT_DIR: OUT, ...env });

/** The CLI of this suite's build, as bin/secrets.js starts it: every command module loads, @platform/* included. */
const devToken = () =>
  node([
    '-e',
    `require(${JSON.stringify(join(ROOT, OUT, 'apps/cli/src/main.js'))})` +
      `.runCli(['dev', 'token', '--org', 'buildcheck']).then((code) => process.exit(code))`,
  ]);

const leftovers = () => readdirSync(ROOT).filter((name) => name.startsWith(`${OUT}.`));

/** What builds leave beside the link: the build it points at and, at most, the one that build replaced. */
function expectOnlyBuilds(): void {
  const left = leftovers();
  expect(left.every((name) => name.startsWith(`${OUT}.build-`))).toBe(true);
  expect(left.length).toBeLessThanOrEqual(2);
  expect(left).toContain(readlinkSync(join(ROOT, OUT)));
}

describe('npm run build', () => {
  afterAll(() => {
    rmSync(join(ROOT, OUT), { recursive: true, force: true });
    rmSync(join(ROOT, TSCONFIG), { force: true });
    for (const name of leftovers()) rmSync(join(ROOT, name), { recursive: true, force: true });
  });

  it('swaps a whole build in: a CLI started at any moment of a rebuild runs', async () => {
    expect(await build()).toMatchObject({ code: 0 });
    const runs: Exit[] = [];
    let built: Exit | undefined;
    const rebuild = build().then((exit) => (built = exit));
    while (built === undefined) runs.push(await devToken());
    await rebuild;
    expect(built).toMatchObject({ code: 0 });
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      expect(run).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+\n$/) });
    }
    expectOnlyBuilds();
  }, 300_000);

  it('leaves the last build in place when a build fails', async () => {
    writeFileSync(
      join(ROOT, TSCONFIG),
      JSON.stringify({ extends: './tsconfig.build.json', compilerOptions: { target: 'no-such-target' } }),
    );
    const failed = await build({ BUILD_TSCONFIG: TSCONFIG });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`; ${OUT}/ is unchanged`);
    expect(existsSync(join(ROOT, OUT, 'apps/cli/src/main.js'))).toBe(true);
    expect(await devToken()).toMatchObject({ code: 0, stderr: '' });
    expectOnlyBuilds();
  }, 120_000);
});
