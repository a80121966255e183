// `npm run bench -- redaction-request`: how long the largest redaction.v1.redact request holds the event loop, for
// the texts and values that cost the matcher most: the CPU time of one request's synchronous stretch (JSON decode of
// the body, redactText, JSON encode of the reply), CPU rather than wall time so other processes on a shared machine
// do not inflate it. TEXT_BYTES=… measures another size than the default limit (REDACTION_MAX_TEXT_BYTES).
import { buildMatcher } from '@platform/redaction';
import { DEFAULT_MAX_TEXT_BYTES } from '../services/redaction/src/redact/text-redaction';
import { type BenchFigure, renderTable } from './report';

const TEXT_BYTES = Number(process.env.TEXT_BYTES ?? DEFAULT_MAX_TEXT_BYTES);
/** services/secrets MAX_VALUE_BYTES: the longest value a tenant can store. */
const LONGEST_VALUE = 64 * 1024;
const RUNS = 5;
/** Beyond this a request stalls every other tenant noticeably (issue 15). */
const TARGET_MS = 50;

interface AttackCase {
  readonly name: string;
  readonly values: readonly string[];
  readonly text: string;
}

function pins(): string[] {
  return Array.from({ length: 10_000 }, (_, pin) => String(pin).padStart(4, '0'));
}

/** Distinct pseudo-random 16-character values, the same on every run. */
function randomValues(count: number): string[] {
  let state = 0x9e3779b9;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: count }, () =>
    Array.from({ length: 16 }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return alphabet[(state >>> 0) % alphabet.length];
    }).join(''),
  );
}

function repeatTo(unit: string, bytes: number): string {
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

function cases(): AttackCase[] {
  const many = randomValues(10_000);
  return [
    {
      name: 'a run of `a`, value 16 KiB of `a` then `b` (issue 15)',
      values: ['a'.repeat(16 * 1024 - 1) + 'b'],
      text: 'a'.repeat(TEXT_BYTES),
    },
    {
      name: 'a run of `a`, value 64 KiB of `a` then `b`',
      values: ['a'.repeat(LONGEST_VALUE - 1) + 'b'],
      text: 'a'.repeat(TEXT_BYTES),
    },
    {
      name: 'a run of `a`, values `aaaa` to 64 KiB of `a` (a match at every byte)',
      values: [4, 5, 8, 15, 16, 64, 1024, LONGEST_VALUE].map((length) => 'a'.repeat(length)),
      text: 'a'.repeat(TEXT_BYTES),
    },
    {
      name: 'every 4-digit PIN stored, every PIN in the text',
      values: pins(),
      text: repeatTo(pins().join(' ') + ' ', TEXT_BYTES),
    },
    {
      name: '10,000 random values stored, the text made of them back to back',
      values: many,
      text: repeatTo(many.join(''), TEXT_BYTES),
    },
    {
      name: '10,000 random values stored, a text without any',
      values: many,
      text: repeatTo('deployment agent pulled image container started health check passed ', TEXT_BYTES),
    },
  ];
}

/** CPU time of one request's synchronous stretch, in ms: decode the body, redact, encode the reply. */
function requestCpuMs(matcher: ReturnType<typeof buildMatcher>, body: string): number {
  const start = process.cpuUsage();
  const { text } = JSON.parse(body) as { text: string };
  const { output, count } = matcher.redactText(text);
  JSON.stringify({ text: output, redactions: count });
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export async function run(): Promise<string> {
  const figures: BenchFigure[] = [];
  const target = { label: 'target', value: TARGET_MS };
  for (const attack of cases()) {
    const matcher = buildMatcher(attack.values);
    const body = JSON.stringify({ text: attack.text });
    // The first request after a build may build the matcher's lazy structures; later ones find them cached.
    const first = requestCpuMs(matcher, body);
    let later = 0;
    for (let i = 1; i < RUNS; i++) later = Math.max(later, requestCpuMs(matcher, body));
    figures.push({
      name: `${attack.name}: first request`,
      value: first,
      unit: 'ms',
      baseline: target,
      lowerIsBetter: true,
    });
    figures.push({
      name: `${attack.name}: later requests`,
      value: later,
      unit: 'ms',
      baseline: target,
      lowerIsBetter: true,
    });
    process.stderr.write(`  redaction-request bench: ${attack.name}: ${first.toFixed(1)} / ${later.toFixed(1)} ms\n`);
  }
  const kib = TEXT_BYTES / 1024;
  return Promise.resolve(
    renderTable(
      `redaction.v1.redact, largest request (${kib} KiB of text): CPU time on the event loop, worst of ${RUNS - 1} later`,
      figures,
    ),
  );
}
