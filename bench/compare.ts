// `npm run bench:compare -- <rev> [name...] [--rounds N]`: the same benchmarks at <rev> and in this tree, alternating
// (before, after, after, before, …, benchmark by benchmark) on this machine in one run, and one table of every figure
// both print: each run's value, and the ratio of the medians (>= 1 means this tree is as good or better). <rev> is
// checked out into a temporary git worktree that shares this tree's node_modules, and removed at the end; both trees
// are built first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineLine } from './report';

const ROOT = join(__dirname, '..');
const WORSE = 0.9;

interface Measured {
  readonly value: number;
  readonly unit: string;
}

/** `1,234.5 creates/s` → 1234.5 and its unit; undefined for a cell that is not a figure. */
function parseCell(cell: string): Measured | undefined {
  const match = /^(-?[\d,]+(?:\.\d+)?)\s*(.*)$/.exec(cell.trim());
  if (!match) return undefined;
  return { value: Number(match[1].replace(/,/g, '')), unit: match[2].trim() };
}

/** A title without what changes from run to run: the parenthesised notes (p50, load, …) and a load average. */
const withoutRunNotes = (title: string): string =>
  title
    .replace(/\s*\([^)]*\)/g, '')
    .replace(/,?\s*load average [\d.]+/g, '')
    .trim();

const figureKey = (section: string, name: string): string => `${section} / ${withoutRunNotes(name)}`;

/** The figures of `npm run bench` output: every table row's name and measured value, by section. */
export function parseBenchOutput(output: string): Map<string, Measured> {
  const figures = new Map<string, Measured>();
  let section = '';
  for (const line of output.split('\n')) {
    if (line.startsWith('### ')) section = withoutRunNotes(line.slice(4));
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || cells[1] === 'figure' || cells[1].startsWith('---')) continue;
    const measured = parseCell(cells[2]);
    // A figure has a unit; a bare number (a load average shown for context) is not compared.
    if (measured && measured.unit !== '') figures.set(figureKey(section, cells[1]), measured);
  }
  return figures;
}

/** Times (ms, µs, s) and CPU are better lower; rates and counts per second better higher. */
const lowerIsBetter = (unit: string): boolean => /^(ms|µs|s|ns)\b/.test(unit) || unit === 'MiB';

function benchNames(tree: string): string[] {
  return readdirSync(join(tree, 'bench'))
    .filter((file) => file.endsWith('.bench.ts'))
    .map((file) => file.replace(/\.bench\.ts$/, ''));
}

function runBench(tree: string, names: readonly string[]): string {
  const result = spawnSync(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'bench/run.ts', ...names],
    { cwd: tree, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) {
    throw new Error(`bench in ${tree} failed (exit ${result.status}):\n${result.stderr.slice(-4000)}`);
  }
  process.stderr.write('.');
  return result.stdout;
}

/** Some benchmarks start the compiled services, so each tree is built first. */
function build(tree: string): void {
  const result = spawnSync('npm', ['run', 'build'], { cwd: tree, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`npm run build in ${tree} failed:\n${result.stderr.slice(-4000)}`);
}

function git(...args: string[]): string {
  const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The middle run (the mean of the middle two): one run slowed by the machine moves it least. */
function median(measured: readonly Measured[]): number {
  const values = measured.map((m) => m.value).sort((x, y) => x - y);
  const middle = Math.floor(values.length / 2);
  return values.length % 2 === 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

function format(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n < 10 ? 2 : 1);
}

function parseArgs(argv: readonly string[]): { rev: string; names: string[]; rounds: number } {
  const args = [...argv];
  let rounds = 3;
  const roundsAt = args.indexOf('--rounds');
  if (roundsAt >= 0) {
    rounds = Number(args[roundsAt + 1]);
    args.splice(roundsAt, 2);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error('--rounds must be 1 to 10');
  }
  const [rev, ...names] = args;
  if (!rev) throw new Error('usage: npm run bench:compare -- <rev> [name...] [--rounds N]');
  return { rev, names, rounds };
}

async function main(): Promise<void> {
  const { rev, names: requested, rounds } = parseArgs(process.argv.slice(2));
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  const worktree = mkdtempSync(join(tmpdir(), 'bench-before-'));
  git('worktree', 'add', '--detach', worktree, commit);
  try {
    if (!existsSync(join(worktree, 'node_modules')))
      symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'));
    const before = benchNames(worktree);
    const names = (requested.length > 0 ? requested : benchNames(ROOT)).filter((name) => before.includes(name));
    if (names.length === 0) throw new Error(`none of the benchmarks asked for exists at ${rev}`);
    build(worktree);
    build(ROOT);
    // Alternating per benchmark, not per whole suite: a machine that slows down for minutes then weighs on both trees.
    const runs = Array.from({ length: rounds }, () => ({
      before: new Map<string, Measured>(),
      after: new Map<string, Measured>(),
    }));
    for (const name of names) {
      for (const [round, run] of runs.entries()) {
        const measure = (tree: string, into: Map<string, Measured>) => {
          for (const [key, measured] of parseBenchOutput(runBench(tree, [name]))) into.set(key, measured);
        };
        // Before first in even rounds, after first in odd ones: a tree never always runs second, right after the
        // other's load (in-process figures of identical code measured 0.63× when this tree always ran second).
        if (round % 2 === 0) {
          measure(worktree, run.before);
          measure(ROOT, run.after);
        } else {
          measure(ROOT, run.after);
          measure(worktree, run.before);
        }
      }
    }
    process.stderr.write('\n');
    console.log(`machine: ${machineLine()}\n`);
    console.log(
      `### ${names.join(', ')}: ${rev} (${commit.slice(0, 7)}) and this tree, alternating, ${rounds} round(s)\n`,
    );
    console.log(`| figure | before (${commit.slice(0, 7)}) | after (this tree) | ratio |`);
    console.log('|---|---|---|---|');
    const worse: string[] = [];
    for (const [key, first] of runs[0].after) {
      const befores = runs.map((run) => run.before.get(key)).filter((m): m is Measured => m?.unit === first.unit);
      const afters = runs.map((run) => run.after.get(key)).filter((m): m is Measured => m !== undefined);
      if (befores.length !== rounds || afters.length !== rounds) continue;
      const [b, a] = [median(befores), median(afters)];
      const ratio = b === 0 || a === 0 ? undefined : lowerIsBetter(first.unit) ? b / a : a / b;
      if (ratio !== undefined && ratio < WORSE) worse.push(key);
      const cells = (ms: Measured[]) => `${ms.map((m) => format(m.value)).join(', ')} ${first.unit}`;
      console.log(
        `| ${key} | ${cells(befores)} | ${cells(afters)} | ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} |`,
      );
    }
    console.log(
      worse.length === 0
        ? `\nNo figure more than ${Math.round((1 - WORSE) * 100)}% worse.`
        : `\nMore than ${Math.round((1 - WORSE) * 100)}% worse: ${worse.join('; ')}.`,
    );
  } finally {
    git('worktree', 'remove', '--force', worktree);
    rmSync(worktree, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
