import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';

/** One measured figure beside what it is compared with (a baseline measured in the same run, or a target). */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** What the figure is compared with; `ratio` = value / baseline (or baseline / value when lower is better). */
  readonly baseline?: { readonly label: string; readonly value: number };
  readonly lowerIsBetter?: boolean;
}

export function ratioOf(figure: BenchFigure): number | undefined {
  if (!figure.baseline || figure.baseline.value === 0 || figure.value === 0) return undefined;
  return figure.lowerIsBetter ? figure.baseline.value / figure.value : figure.value / figure.baseline.value;
}

export function machineLine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

function format(n: number): string {
  if (Number.isInteger(n) || Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n < 10 ? 2 : 1);
}

/** A markdown table: figure, value, baseline, ratio (>= 1 means better than the baseline). */
export function renderTable(title: string, figures: readonly BenchFigure[]): string {
  const rows = figures.map((f) => {
    const ratio = ratioOf(f);
    const baseline = f.baseline ? `${format(f.baseline.value)} ${f.unit} (${f.baseline.label})` : '—';
    return `| ${f.name} | ${format(f.value)} ${f.unit} | ${baseline} | ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} |`;
  });
  return [`### ${title}`, '', '| figure | measured | baseline | ratio |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** Measures how many times `fn` runs per second over at least `minMs`, after a warm-up. */
export function opsPerSecond(fn: () => unknown, minMs = 1000): number {
  const warmUntil = performance.now() + Math.min(200, minMs / 4);
  while (performance.now() < warmUntil) fn();
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 64; i++) fn();
    runs += 64;
    elapsed = performance.now() - start;
  }
  return (runs * 1000) / elapsed;
}

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)];
}

/**
 * A figure as bench/results.md last recorded it: the measured value of the first table row whose name starts with
 * `namePrefix` (a number with thousands separators), or undefined when the file has no such row.
 */
export function recordedFigure(namePrefix: string, file = join(__dirname, 'results.md')): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1].startsWith(namePrefix)) continue;
    const value = Number(/^([\d,.]+)/.exec(cells[2])?.[1].replace(/,/g, ''));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}
