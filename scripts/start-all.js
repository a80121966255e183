#!/usr/bin/env node
// `npm start`: the four built services in one terminal, against local NATS and Postgres, with the dev keys.
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const readline = require('node:readline');

const services = ['secrets', 'render', 'redaction', 'audit'];
const root = join(__dirname, '..');
const children = services.map((name) => {
  const child = spawn(process.execPath, [join(root, 'dist/services', name, 'src/main.js')], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline
      .createInterface({ input: stream })
      .on('line', (line) => process.stdout.write(`${name.padEnd(9)}| ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${name.padEnd(9)}| exited (${signal ?? code})\n`);
    stopAll(code ?? 1);
  });
  return child;
});

let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 3000).unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
