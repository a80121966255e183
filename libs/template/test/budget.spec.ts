import {
  TEMPLATE_LIMITS,
  TemplateErrorCode,
  TemplateExecutionError,
  TemplateParseError,
  parseTemplate,
} from '@platform/template';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

const TOO_MUCH_WORK = `template execution exceeded its work budget (${TEMPLATE_LIMITS.maxWork} units): it produces or iterates too much`;

/** `levels` defines, each calling the one below twice: the leaf runs 2^levels times. */
function doubling(levels: number, leaf: string): string {
  let source = `{{ define "l0" }}${leaf}{{ end }}`;
  for (let i = 1; i <= levels; i++) {
    source += `{{ define "l${i}" }}{{ template "l${i - 1}" . }}{{ template "l${i - 1}" . }}{{ end }}`;
  }
  return source + `{{ template "l${levels}" . }}`;
}

describe('work budget', () => {
  it('stops doubling template calls that build large strings and print nothing (issue 15)', () => {
    const source = doubling(30, '{{ $x := printf "%9999999d" 1 }}');
    expect(source.length).toBeLessThan(3000);
    const e = thrown(() => parseTemplate(source).execute({}));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({ code: TemplateErrorCode.TooMuchWork, message: TOO_MUCH_WORK });
  });

  it('stops a range over data with nested work', () => {
    const t = parseTemplate('{{ range .L }}{{ range $.L }}{{ $x := printf "%10000d" . }}{{ end }}{{ end }}');
    const L = Array.from({ length: 20_000 }, (_, i) => i);
    const e = thrown(() => t.execute({ L }));
    expect(e).toMatchObject({ code: TemplateErrorCode.TooMuchWork, message: TOO_MUCH_WORK });
    expect((e as TemplateExecutionError).goMessage).toMatch(/^template: template:1:\d+: executing "template" at </);
    expect(t.execute({ L: [1, 2, 3] })).toBe('');
  });

  it('counts what functions read and build', () => {
    const t = parseTemplate('{{ range .L }}{{ $x := b64enc $.S }}{{ end }}');
    const S = 'x'.repeat(64 * 1024);
    const e = thrown(() => t.execute({ S, L: Array.from({ length: 1000 }, (_, i) => i) }));
    expect(e).toMatchObject({ code: TemplateErrorCode.TooMuchWork });
    expect((e as Error).message).not.toContain('xxx');
    expect(t.execute({ S, L: [1, 2] })).toBe('');
  });

  it('lets an ordinary template with large secrets through', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `K${i}`);
    const t = parseTemplate(keys.map((k) => `${k}={{ .Secrets.${k} | b64enc | quote }}\n`).join(''));
    const value = 'v'.repeat(8 * 1024);
    const Secrets = Object.fromEntries(keys.map((k) => [k, value]));
    const encoded = Buffer.from(value).toString('base64');
    expect(t.execute({ Secrets })).toBe(keys.map((k) => `${k}="${encoded}"\n`).join(''));
  });
});

describe('single function results', () => {
  const OUTPUT_TOO_LARGE = `output is larger than ${TEMPLATE_LIMITS.maxOutputBytes} bytes`;

  it.each([
    ['width', '{{ printf "%9999999d%9999999d" 1 2 }}'],
    ['precision of an integer', '{{ printf "%.9999999d%.9999999d" 1 2 }}'],
    ['precision of a float', '{{ printf "%.9999999f%.9999999e" 1.5 1.5 }}'],
    ['width of a string', '{{ printf "%9999999s|%-9999999s" "a" "b" }}'],
  ])('refuses padding past the output limit before building it: %s', (_name, source) => {
    const e = thrown(() => parseTemplate(source).execute({}));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({ code: TemplateErrorCode.OutputTooLarge, message: OUTPUT_TOO_LARGE });
  });

  it('builds a wide result under the limit exactly as Go does', () => {
    const out = parseTemplate('{{ printf "%9999999d|%.3f|%.20x" 7 1.5 1.5 }}').execute({});
    expect(out).toHaveLength(9_999_999 + '|1.500|0x1.80000000000000000000p+00'.length);
    expect(out.endsWith('7|1.500|0x1.80000000000000000000p+00')).toBe(true);
  });

  it("keeps Go's reading of a width too long to be a number", () => {
    expect(parseTemplate('{{ printf "%999999999d" 1 }}').execute({})).toBe('%!(NOVERB)%!(EXTRA int=1)');
  });
});

describe('deadlines', () => {
  it('fails an execution past its deadline', () => {
    const t = parseTemplate('{{ .A }}');
    const e = thrown(() => t.execute({ A: 'a' }, { deadline: Date.now() - 1 }));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({
      code: TemplateErrorCode.TimeLimit,
      message: 'template execution took longer than the time limit',
    });
    expect(t.execute({ A: 'a' }, { deadline: Date.now() + 60_000 })).toBe('a');
  });

  it('fails a parse past its deadline', () => {
    const e = thrown(() => parseTemplate('{{ .A }}', { deadline: Date.now() - 1 }));
    expect(e).toBeInstanceOf(TemplateParseError);
    expect(e).toMatchObject({
      code: TemplateErrorCode.TimeLimit,
      message: 'template parsing took longer than the time limit',
    });
    expect(parseTemplate('{{ .A }}', { deadline: Date.now() + 60_000 }).execute({ A: 'a' })).toBe('a');
  });
});

describe('parse effort', () => {
  it('refuses a source with more parse nodes than the limit', () => {
    // An action `{{.}}` is four nodes: action, pipeline, command, dot.
    const source = '{{.}}'.repeat(Math.ceil(TEMPLATE_LIMITS.maxNodes / 4) + 1);
    expect(Buffer.byteLength(source)).toBeLessThanOrEqual(TEMPLATE_LIMITS.maxSourceBytes);
    const e = thrown(() => parseTemplate(source));
    expect(e).toBeInstanceOf(TemplateParseError);
    expect(e).toMatchObject({
      code: TemplateErrorCode.TooMuchWork,
      message: `template has more than ${TEMPLATE_LIMITS.maxNodes} parse nodes`,
    });
  });

  it('estimates the heap a template keeps, source included, growing with the template', () => {
    const small = parseTemplate('{{ .A }}');
    const text = parseTemplate('x'.repeat(100_000));
    const actions = parseTemplate('{{ .A }}'.repeat(10_000));
    expect(small.estimatedBytes).toBeGreaterThanOrEqual('{{ .A }}'.length);
    expect(text.estimatedBytes).toBeGreaterThanOrEqual(100_000);
    expect(actions.estimatedBytes).toBeGreaterThan(10 * '{{ .A }}'.repeat(10_000).length);
    expect(parseTemplate('{{ .A }}'.repeat(20_000)).estimatedBytes).toBeGreaterThan(actions.estimatedBytes);
  });
});
