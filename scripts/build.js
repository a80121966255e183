#!/usr/bin/env node
// `npm run build`: compiles into a directory of its own, rewrites the path aliases there, and only then swaps it in
// for dist/, so a CLI or service started during a build runs the old build or the new one, never half of one.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, renameSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
// BUILD_OUT_DIR: another directory under the root than dist/ (the build's own test builds beside it).
const OUT = process.env.BUILD_OUT_DIR || 'dist';
const DIST = join(ROOT, OUT);
// BUILD_TSCONFIG: another project file (the build's test makes one fail).
const TSCONFIG = process.env.BUILD_TSCONFIG || 'tsconfig.build.json';
const BUILDING = `${OUT}.building-`;
const REPLACED = `${OUT}.replaced-`;
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
    const prefix = [BUILDING, REPLACED].find((p) => name.startsWith(p));
    if (prefix && !isRunning(Number(name.slice(prefix.length)))) {
      rmSync(join(ROOT, name), { recursive: true, force: true });
    }
  }
}

function run(command, args) {
  execFileSync(process.execPath, [require.resolve(command), ...args], { cwd: ROOT, stdio: 'inherit' });
}

/** Puts `next` where dist/ is: two renames, microseconds apart; another build's swap in between is retried. */
function swapIn(next) {
  const replaced = join(ROOT, `${REPLACED}${process.pid}`);
  for (let attempt = 0; ; attempt++) {
    try {
      if (existsSync(DIST)) renameSync(DIST, replaced);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    try {
      renameSync(next, DIST);
      break;
    } catch (error) {
      if (!['ENOTEMPTY', 'EEXIST'].includes(error.code) || attempt >= 10) throw error;
    }
  }
  rmSync(replaced, { recursive: true, force: true });
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
