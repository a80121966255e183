// Every case in golden/golden.json was rendered by Go's text/template (see golden/main.go); the engine must agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GoStringMap,
  TemplateExecutionError,
  TemplateParseError,
  goValueText,
  parseTemplate,
} from '@platform/template';

interface GoldenCase {
  readonly name: string;
  readonly template: string;
  readonly data?: unknown;
  /** `map[string]string`: Go ran the case with its Secrets as that type, so the engine gets a GoStringMap. */
  readonly secretsType?: 'map[string]string';
  readonly lenient?: boolean;
  readonly output?: string;
  readonly error?: string;
  readonly phase?: 'parse' | 'execute';
}

interface GoldenFile {
  readonly go: string;
  readonly defaultData: unknown;
  readonly cases: readonly GoldenCase[];
}

const golden = JSON.parse(readFileSync(join(__dirname, 'golden', 'golden.json'), 'utf8')) as GoldenFile;

type Outcome = { output: string } | { error: string; phase: 'parse' | 'execute'; reason: string };

/** The case's data, its Secrets as a GoStringMap where Go had them as map[string]string. */
function dataOf(c: GoldenCase): unknown {
  const data = 'data' in c ? c.data : golden.defaultData;
  if (c.secretsType === undefined) return data;
  const { Secrets, ...rest } = data as { Secrets: Record<string, string> };
  return { ...rest, Secrets: new GoStringMap(Object.entries(Secrets)) };
}

function render(c: GoldenCase): Outcome {
  const data = dataOf(c);
  let phase: 'parse' | 'execute' = 'parse';
  try {
    const template = parseTemplate(c.template, { name: 't' });
    phase = 'execute';
    // Go's own text for values in errors: the golden messages are Go's; the default redaction is tested apart.
    return { output: template.execute(data, { describeValue: goValueText }) };
  } catch (e) {
    const expectedClass = phase === 'parse' ? TemplateParseError : TemplateExecutionError;
    if (!(e instanceof expectedClass)) throw e;
    expect(e.reason).toBe(e.message);
    return { error: e.goMessage, phase, reason: e.message };
  }
}

/** Go's message minus its `template: NAME:LINE[:COL][: executing "…" at <…>]: ` prefix. */
function goReason(message: string): string {
  const executing = /^template: [^:]*:\d+:\d+: executing "(?:[^"\\]|\\.)*" at <.*?>: /s.exec(message);
  if (executing) return message.slice(executing[0].length);
  return message.replace(/^template: [^:]*:\d+: /, '');
}

const strict = golden.cases.filter((c) => !c.lenient);
const lenient = golden.cases.filter((c) => c.lenient);

describe(`templates render as Go ${golden.go} text/template does (missingkey=error)`, () => {
  it('covers at least 150 cases, 50 of them with .Secrets as map[string]string', () => {
    expect(strict.length).toBeGreaterThanOrEqual(150);
    expect(strict.filter((c) => c.secretsType === 'map[string]string').length).toBeGreaterThanOrEqual(50);
  });

  it.each(strict.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const outcome = render(c);
    if (c.error !== undefined) {
      expect(outcome).toEqual({ error: c.error, phase: c.phase, reason: goReason(c.error) });
    } else {
      expect(outcome).toEqual({ output: c.output });
    }
  });
});

describe('deviation: a missing key is empty where it is checked (Go with missingkey=zero agrees)', () => {
  it.each(lenient.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const outcome = render(c);
    if (c.error !== undefined) expect(outcome).toMatchObject({ error: c.error, phase: 'execute' });
    else expect(outcome).toEqual({ output: c.output });
  });
});
