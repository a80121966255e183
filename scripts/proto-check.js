#!/usr/bin/env node
// Fails when proto/ breaks buf lint or buf format, or when libs/contracts/src/gen is not what `npm run proto:gen` would write.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const generatedDir = 'libs/contracts/src/gen';
const buf = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'buf.cmd' : 'buf');

function runBuf(args) {
  const result = spawnSync(buf, args, { cwd: root, encoding: 'utf8' });
  if (result.error) {
    throw result.error;
  }
  return result;
}

function filesUnder(dir) {
  if (!fs.existsSync(dir)) {
    return [];
  }
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

/** Files that differ between the committed and the freshly generated tree, each with what is wrong. */
function staleFiles(committedDir, freshDir) {
  const committed = new Set(filesUnder(committedDir));
  const fresh = new Set(filesUnder(freshDir));
  const problems = [];
  for (const file of fresh) {
    if (!committed.has(file)) {
      problems.push(`missing   ${file}`);
    } else if (!fs.readFileSync(path.join(committedDir, file)).equals(fs.readFileSync(path.join(freshDir, file)))) {
      problems.push(`outdated  ${file}`);
    }
  }
  for (const file of committed) {
    if (!fresh.has(file)) {
      problems.push(`orphaned  ${file}`);
    }
  }
  return problems.sort((a, b) => a.slice(10).localeCompare(b.slice(10)));
}

function main() {
  let failed = false;

  const lint = runBuf(['lint']);
  if (lint.status !== 0) {
    process.stderr.write(`buf lint failed:\n${lint.stdout}${lint.stderr}`);
    failed = true;
  }

  const format = runBuf(['format', '--diff', '--exit-code']);
  if (format.status !== 0) {
    process.stderr.write(
      `proto files are not buf-formatted (run: npx buf format -w):\n${format.stdout}${format.stderr}`,
    );
    failed = true;
  }

  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'proto-check-'));
  try {
    const generate = runBuf(['generate', '--output', outDir]);
    if (generate.status !== 0) {
      process.stderr.write(`buf generate failed:\n${generate.stdout}${generate.stderr}`);
      failed = true;
    } else {
      const problems = staleFiles(path.join(root, generatedDir), path.join(outDir, generatedDir));
      if (problems.length > 0) {
        process.stderr.write(
          `${generatedDir} is stale (run: npm run proto:gen):\n${problems.map((line) => `  ${line}\n`).join('')}`,
        );
        failed = true;
      }
    }
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }

  if (failed) {
    process.exit(1);
  }
  process.stdout.write(`proto: lint, format and ${generatedDir} are up to date\n`);
}

main();
