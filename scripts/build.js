#!/usr/bin/env node
// `npm run build`: compiles into a directory of its own, rewrites the path aliases there, and only then points dist at
// it: dist is a symlink, replaced by one rename, so there is no moment without a build. A process runs the build it
// started in to the end (Node resolves a module's real path, so its later requires stay in that tree): the build a
// swap replaces is kept until the next swap.
const { execFileSync } = require('node:child_process');
const { existsSync, lstatSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
// BUILD_OUT_DIR: another directory under the root than dist/ (the build's own test builds beside it).
const OUT = process.env.BUILD_OUT_DIR || 'dist';
const DIST = join(ROOT, OUT);
// BUILD_TSCONFIG: another project file (the build's test makes one fail).
const TSCONFIG = process.env.BUILD_TSCONFIG || 'tsconfig.build.json';
const BUILDING = `${OUT}.building-`;
const REPLACED = `${OUT}.replaced-`;
/** A finished build, named by the process that made it; dist links to one. */
const BUILT = `${OUT}.build-`;
const LINK = `${OUT}.link-`;
/** Files every build must hold; a build without them is never swapped in. */
const ENTRIES = [
  'apps/cli/src/main.js',
  ...['secrets', 'render', 'redaction', 'audit'].map((service) => `services/${service}/src/main.js`),
];

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Directories a build that was killed left behind (their process is gone). */
function removeLeftovers() {
  for (const name of readdirSync(ROOT)) {
    const prefix = [BUILDING, REPLACED, LINK].find((p) => name.startsWith(p));
    if (prefix && !isRunning(Number(name.slice(prefix.length)))) {
      rmSync(join(ROOT, name), { recursive: true, force: true });
    }
  }
}

function run(command, args) {
  execFileSync(process.execPath, [require.resolve(command), ...args], { cwd: ROOT, stdio: 'inherit' });
}

/** The build dist links to now, if dist is a link. */
function linkedBuild() {
  try {
    return lstatSync(DIST).isSymbolicLink() ? readlinkSync(DIST) : undefined;
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Points dist at `next` with one rename of a new link over the old one. A dist that is still a directory (made before
 * builds were linked) is moved aside first, once. Builds older than the one replaced are removed.
 */
function swapIn(next) {
  const target = `${BUILT}${process.pid}`;
  renameSync(next, join(ROOT, target));
  const link = join(ROOT, `${LINK}${process.pid}`);
  symlinkSync(target, link);
  const previous = linkedBuild();
  const replaced = join(ROOT, `${REPLACED}${process.pid}`);
  if (previous === undefined && existsSync(DIST)) renameSync(DIST, replaced);
  renameSync(link, DIST);
  rmSync(replaced, { recursive: true, force: true });
  for (const name of readdirSync(ROOT)) {
    if (name.startsWith(BUILT) && name !== target && name !== previous) {
      rmSync(join(ROOT, name), { recursive: true, force: true });
    }
  }
}

function main() {
  removeLeftovers();
  const name = `${BUILDING}${process.pid}`;
  const next = join(ROOT, name);
  try {
    run('typescript/bin/tsc', ['-p', TSCONFIG, '--outDir', name]);
    run('tsc-alias/dist/bin/index.js', ['-p', TSCONFIG, '--outDir', name]);
    const absent = ENTRIES.filter((entry) => !existsSync(join(next, entry)));
    if (absent.length > 0) throw new Error(`the build lacks ${absent.join(', ')}`);
    swapIn(next);
  } catch (error) {
    rmSync(next, { recursive: true, force: true });
    // tsc has printed its own errors; say only that dist/ was left as it was.
    process.stderr.write(`build failed (${error.message.split('\n')[0]}); ${OUT}/ is unchanged\n`);
    process.exit(1);
  }
}

main();
