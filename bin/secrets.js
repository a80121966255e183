#!/usr/bin/env node
// The `secrets` CLI (built by `npm run build` into dist/apps/cli).
const { join } = require('node:path');
const { existsSync, readdirSync } = require('node:fs');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
// `npm run build` points dist at a finished build with one rename; only a dist that was still a directory is moved
// aside first, once (scripts/build.js): in that moment, wait.
const swapping = () => readdirSync(root).some((name) => name.startsWith('dist.replaced-'));
for (let waits = 0; !existsSync(entry) && swapping() && waits < 100; waits++) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
}
if (!existsSync(entry)) {
  process.stderr.write('secrets: not built yet; run `npm run build` first\n');
  process.exit(1);
}
require(entry)
  .runCli(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
