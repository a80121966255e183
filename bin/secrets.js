#!/usr/bin/env node
// The `secrets` CLI (built by `npm run build` into dist/apps/cli).
const { join } = require('node:path');
const { existsSync } = require('node:fs');

const entry = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
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
