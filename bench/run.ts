// `npm run bench -- <name>` runs bench/<name>.bench.ts; without a name, every benchmark in turn.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { dropRunDatabases, releaseRunStreams, testRunId } from '@platform/testing';
import { machineLine } from './report';

export interface Benchmark {
  /** Runs the benchmark and returns its markdown table (also printed). */
  run(): Promise<string>;
  /** Other benchmarks whose tables `run` prints too; a full run does not run them a second time. */
  readonly includes?: readonly string[];
}

async function main(): Promise<void> {
  const available = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace(/\.bench\.ts$/, ''))
    .sort();
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
    process.exit(2);
  }
  const names = requested.length > 0 ? requested : available;
  console.log(`machine: ${machineLine()}\n`);
  const tables: string[] = [];
  const done = new Set<string>();
  try {
    for (const name of names) {
      if (done.has(name)) continue;
      const bench = (await import(join(__dirname, `${name}.bench`))) as Benchmark;
      for (const included of bench.includes ?? []) done.add(included);
      const table = await bench.run();
      console.log(table);
      tables.push(table);
    }
  } finally {
    // Every prefix and database a benchmark made carries this process's run id: none outlives the run.
    await releaseRunStreams(testRunId());
    await dropRunDatabases(testRunId());
  }
  if (requested.length === 0) {
    const header = `# Benchmark results\n\nMachine: ${machineLine()}\nRun: \`npm run bench\` on ${new Date().toISOString()}\n\n`;
    // Written as the repository's formatter would, so `npm run lint` passes on a fresh results file.
    const file = join(__dirname, 'results.md');
    const options = { ...(await resolveConfig(file)), parser: 'markdown' };
    writeFileSync(file, await format(header + tables.join('\n'), options));
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
