import {
  GoStringMap,
  TEMPLATE_LIMITS,
  TemplateErrorCode,
  TemplateExecutionError,
  TemplateParseError,
  goValueText,
  parseTemplate,
} from '@platform/template';

const secrets = (values: Record<string, string>) => ({ Secrets: values });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('parseTemplate / execute', () => {
  it('renders the seed examples', () => {
    const t = parseTemplate(
      'API_KEY={{ .Secrets.API_KEY }}\nAUTH_TOKEN={{ .Secrets.CLIENT_ID }}:{{ .Secrets.CLIENT_SECRET }}\n' +
        'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}\n',
    );
    expect(t.execute(secrets({ API_KEY: 'k', CLIENT_ID: 'id', CLIENT_SECRET: 'cs' }))).toBe(
      'API_KEY=k\nAUTH_TOKEN=id:cs\nAPI_URL=https://api.example.com\n',
    );
    expect(t.execute(secrets({ API_KEY: 'k', CLIENT_ID: 'id', CLIENT_SECRET: 'cs', API_URL: 'https://x' }))).toContain(
      'API_URL=https://x',
    );
  });

  it('is reusable: one parse, many executions with different data', () => {
    const t = parseTemplate('{{ .Secrets.A }}');
    expect(['1', '2', '3'].map((a) => t.execute(secrets({ A: a })))).toEqual(['1', '2', '3']);
  });

  it('names the template "template" unless told otherwise', () => {
    const e = thrown(() => parseTemplate('{{ .Secrets.NOPE }}').execute(secrets({})));
    expect(e).toMatchObject({
      message: 'map has no entry for key "NOPE"',
      goMessage: 'template: template:1:11: executing "template" at <.Secrets.NOPE>: map has no entry for key "NOPE"',
      line: 1,
      column: 11,
    });
    const named = thrown(() => parseTemplate('{{ .X }', { name: 'values.yaml' }));
    expect(named).toMatchObject({
      message: 'unexpected "}" in operand',
      goMessage: 'template: values.yaml:1: unexpected "}" in operand',
    });
  });

  it('reads Maps as well as plain objects, and never the prototype chain', () => {
    expect(parseTemplate('{{ .Secrets.A }}').execute({ Secrets: new Map([['A', 'from-map']]) })).toBe('from-map');
    const e = thrown(() => parseTemplate('{{ .Secrets.constructor }}').execute(secrets({})));
    expect((e as TemplateExecutionError).reason).toBe('map has no entry for key "constructor"');
  });
});

describe('errors', () => {
  it("a missing secret: Go's core message, Go's full text, line and column", () => {
    const e = thrown(() => parseTemplate('A=1\nB={{ .Secrets.SECRET_NAME }}').execute(secrets({})));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({
      // Go places a field chain at its last field.
      goMessage:
        'template: template:2:13: executing "template" at <.Secrets.SECRET_NAME>: map has no entry for key "SECRET_NAME"',
      message: 'map has no entry for key "SECRET_NAME"',
      reason: 'map has no entry for key "SECRET_NAME"',
      code: TemplateErrorCode.Execution,
      line: 2,
      column: 13,
      templateName: 'template',
    });
  });

  it("a syntax error: Go's core message, Go's full text, line", () => {
    const e = thrown(() => parseTemplate('ok\n{{ .Secrets.A }\n'));
    expect(e).toBeInstanceOf(TemplateParseError);
    expect(e).toMatchObject({
      goMessage: 'template: template:2: unexpected "}" in operand',
      message: 'unexpected "}" in operand',
      reason: 'unexpected "}" in operand',
      code: TemplateErrorCode.Parse,
      line: 2,
    });
  });

  it('an error inside a defined template names it', () => {
    const e = thrown(() =>
      parseTemplate('{{ define "db" }}{{ .Secrets.DB }}{{ end }}{{ template "db" . }}').execute(secrets({})),
    );
    expect(e).toMatchObject({ templateName: 'db', reason: 'map has no entry for key "DB"' });
  });

  it('never quotes a secret value', () => {
    const value = 'hunter2-very-secret';
    const attempts = [
      '{{ .Secrets.A.B }}',
      '{{ range .Secrets.A }}{{ end }}',
      '{{ index .Secrets.A 99 }}',
      '{{ len 3 | printf "%d" | .Secrets.A }}',
      '{{ upper (index .Secrets "A" | len) }}',
      '{{ eq .Secrets.A 1 }}',
      '{{ eq .Secrets .Secrets }}',
      '{{ range .Secrets.A }}{{ end }}',
    ];
    for (const source of attempts) {
      const e = thrown(() => parseTemplate(source).execute(secrets({ A: value })));
      expect(e).toBeInstanceOf(TemplateExecutionError);
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});

describe('values from the data in error messages (describeValue)', () => {
  const value = 'hunter2-very-secret';
  const cases: readonly [string, string, string][] = [
    ['{{ range .Secrets.A }}{{ end }}', "range can't iterate over <redacted string>", 'range'],
    ['{{ required .Secrets.A .Secrets.NOPE }}', 'error calling required: <redacted string>', 'required'],
    ['{{ eq .Secrets .Secrets }}', 'error calling eq: non-comparable type <redacted map[string]interface {}>', 'eq'],
    ['{{ eq .L .Secrets }}', 'error calling eq: non-comparable types <redacted []interface {}>', 'eq'],
  ];

  it.each(cases)('by default names the type of a value Go would print: %s', (source, reason) => {
    const e = thrown(() => parseTemplate(source).execute({ ...secrets({ A: value }), L: [value] }));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect((e as TemplateExecutionError).reason).toContain(reason);
    expect((e as Error).message).not.toContain('hunter2');
  });

  it.each(cases)('shows each such value through the caller’s describeValue: %s', (source, _reason, _fn) => {
    const seen: unknown[] = [];
    const e = thrown(() =>
      parseTemplate(source).execute(
        { ...secrets({ A: value }), L: [value] },
        {
          describeValue: (v) => {
            seen.push(v);
            return '[data]';
          },
        },
      ),
    );
    expect((e as TemplateExecutionError).reason).toContain('[data]');
    expect((e as Error).message).not.toContain('hunter2');
    expect(seen.length).toBeGreaterThan(0);
  });

  it("prints Go's own text with goValueText", () => {
    const e = thrown(() =>
      parseTemplate('{{ range .Secrets.A }}{{ end }}').execute(secrets({ A: 'x' }), { describeValue: goValueText }),
    );
    expect(e).toMatchObject({ reason: "range can't iterate over x" });
  });

  it("keeps a literal required message and Go's fixed wording, whatever the values are", () => {
    for (const v of ['e', '1', 'ap', 'ntr']) {
      const data = secrets({ FLAG: v, OTHER: v });
      const describeValue = () => '********';
      expect(
        thrown(() => parseTemplate('{{ required "need X" .Secrets.X }}').execute(data, { describeValue })),
      ).toMatchObject({ reason: 'error calling required: need X' });
      expect(
        thrown(() => parseTemplate('{{ .Secrets.FLAG }}{{ .Secrets.SECRET_NAME }}').execute(data, { describeValue })),
      ).toMatchObject({ reason: 'map has no entry for key "SECRET_NAME"' });
    }
  });
});

describe("GoStringMap: .Secrets as Go's map[string]string", () => {
  const value = 'hunter2-very-secret';

  it('refuses a key or value that is not a string, naming neither', () => {
    const entries = [['A', 42]] as unknown as [string, string][];
    expect(() => new GoStringMap(entries)).toThrow(
      new TypeError('a GoStringMap holds only string keys and string values'),
    );
    const keys = [[7, value]] as unknown as [string, string][];
    const e = thrown(() => new GoStringMap(keys));
    expect(e).toBeInstanceOf(TypeError);
    expect((e as Error).message).not.toContain('hunter2');
  });

  it('names the map by type only in a default error message', () => {
    const e = thrown(() =>
      parseTemplate('{{ eq .Secrets .Secrets }}').execute({ Secrets: new GoStringMap([['A', value]]) }),
    );
    expect(e).toMatchObject({
      reason: 'error calling eq: non-comparable type <redacted map[string]string>: map[string]string',
    });
    expect((e as Error).message).not.toContain('hunter2');
  });

  it('tells onRead each key whose value a template reads, and only those', () => {
    const reads = (source: string): string[] => {
      const seen: string[] = [];
      const map = new GoStringMap(
        [
          ['A', 'a'],
          ['B', 'b'],
          ['C', ''],
        ],
        (key) => seen.push(key),
      );
      parseTemplate(source).execute({ Secrets: map, List: [map] });
      return seen;
    };
    expect(reads('{{ .Secrets.B }}{{ index .Secrets "C" }}{{ index .Secrets "NOPE" }}')).toEqual(['B', 'C']);
    expect(reads('{{ if .Secrets.NOPE }}{{ end }}{{ default "x" .Secrets.NOPE }}')).toEqual([]);
    expect(reads('{{ len .Secrets }}{{ if .Secrets }}{{ end }}{{ with .Secrets }}{{ end }}')).toEqual([]);
    expect(reads('{{ range $k, $v := .Secrets }}{{ if eq $k "B" }}{{ break }}{{ end }}{{ end }}')).toEqual(['A', 'B']);
    expect(reads('{{ .Secrets }}')).toEqual(['A', 'B', 'C']);
    expect(reads('{{ range .List }}{{ .A }}{{ end }}{{ $s := .Secrets }}{{ $s.C }}')).toEqual(['A', 'C']);
  });
});

describe('escapePrinted', () => {
  const escapePrinted = (text: string) => text.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  const data = secrets({ CERT: 'l1\nl2' });

  it('escapes what actions print, after the template computed with the raw value', () => {
    const t = parseTemplate(
      'A={{ .Secrets.CERT }}\nQ={{ .Secrets.CERT | quote }}\nB={{ b64enc .Secrets.CERT }}\n' +
        'L={{ len .Secrets.CERT }}\nE={{ eq .Secrets.CERT "l1\\nl2" }}\n',
    );
    expect(t.execute(data, { escapePrinted })).toBe('A=l1\\nl2\nQ="l1\\nl2"\nB=bDEKbDI=\nL=5\nE=true\n');
  });

  it('leaves the literal text and templates executed without it alone', () => {
    const t = parseTemplate('{{ define "d" }}x\ny{{ .Secrets.CERT }}{{ end }}{{ template "d" . }}\n');
    expect(t.execute(data, { escapePrinted })).toBe('x\nyl1\\nl2\n');
    expect(t.execute(data)).toBe('x\nyl1\nl2\n');
    expect(t.execute(data, { escapePrinted })).toBe('x\nyl1\\nl2\n');
  });
});

describe('else if chains', () => {
  it('are not nesting: thousands of links parse, render and list references without recursion', () => {
    const links = 20_000;
    let source = '{{ if eq .N 0 }}{{ .Secrets.K0 }}';
    for (let i = 1; i < links; i++) source += `{{ else if eq .N ${i} }}{{ .Secrets.K${i % 7} }}`;
    source += '{{ else }}none{{ end }}';
    const t = parseTemplate(source);
    expect(t.execute({ N: links - 1, Secrets: { [`K${(links - 1) % 7}`]: 'last' } })).toBe('last');
    expect(t.execute({ N: links, Secrets: {} })).toBe('none');
    expect(t.references()).toEqual(['K0', 'K1', 'K2', 'K3', 'K4', 'K5', 'K6']);
  });
});

describe('limits', () => {
  it('refuses a source over 1 MiB', () => {
    const e = thrown(() => parseTemplate('x'.repeat(TEMPLATE_LIMITS.maxSourceBytes + 1)));
    expect(e).toBeInstanceOf(TemplateParseError);
    expect(e).toMatchObject({ code: TemplateErrorCode.SourceTooLarge });
  });

  it('accepts a source of exactly 1 MiB', () => {
    const source = 'x'.repeat(TEMPLATE_LIMITS.maxSourceBytes);
    expect(parseTemplate(source).execute({})).toHaveLength(source.length);
  });

  it('stops output over 10 MiB', () => {
    const big = 'y'.repeat(1024 * 1024);
    const t = parseTemplate('{{ range .L }}{{ $.Secrets.BIG }}{{ end }}');
    const data = { Secrets: { BIG: big }, L: Array.from({ length: 11 }, () => 1) };
    const e = thrown(() => t.execute(data));
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({ code: TemplateErrorCode.OutputTooLarge });
    expect((e as Error).message).not.toContain('yyyy');
    expect(t.execute({ ...data, L: [1, 2, 3] })).toHaveLength(3 * big.length);
  });

  it('counts output in UTF-8 bytes', () => {
    const threeByteChars = '☺'.repeat(1024 * 1024); // 3 MiB in UTF-8, 1 Mi UTF-16 units
    const t = parseTemplate('{{ range .L }}{{ $.S }}{{ end }}');
    expect(thrown(() => t.execute({ S: threeByteChars, L: [1, 2, 3, 4] }))).toMatchObject({
      code: TemplateErrorCode.OutputTooLarge,
    });
    expect(t.execute({ S: threeByteChars, L: [1, 2, 3] })).toHaveLength(3 * threeByteChars.length);
  });

  it('stops a function from building a result over the output limit', () => {
    const e = thrown(() => parseTemplate('{{ indent 100000000 "x\\ny" }}').execute({}));
    expect(e).toMatchObject({ code: TemplateErrorCode.OutputTooLarge });
  });

  it('bounds nesting at parse time', () => {
    const depth = TEMPLATE_LIMITS.maxNesting;
    const nested = (n: number) => '{{ if true }}'.repeat(n) + 'x' + '{{ end }}'.repeat(n);
    expect(parseTemplate(nested(depth)).execute({})).toBe('x');
    expect(thrown(() => parseTemplate(nested(depth + 1)))).toMatchObject({
      code: TemplateErrorCode.TooDeep,
      reason: 'max expression depth exceeded',
    });
    const parens = '{{ ' + '('.repeat(depth + 1) + '1' + ')'.repeat(depth + 1) + ' }}';
    expect(thrown(() => parseTemplate(parens))).toBeInstanceOf(TemplateParseError);
  });

  it("bounds template recursion with Go's message and a lower limit", () => {
    const e = thrown(() =>
      parseTemplate('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}').execute({}),
    );
    expect(e).toBeInstanceOf(TemplateExecutionError);
    expect(e).toMatchObject({
      code: TemplateErrorCode.TooDeep,
      reason: `exceeded maximum template depth (${TEMPLATE_LIMITS.maxTemplateDepth})`,
    });
  });

  it('bounds recursion through deeply nested bodies before the JS stack runs out', () => {
    const depth = TEMPLATE_LIMITS.maxNesting - 1;
    const body = '{{ if true }}'.repeat(depth) + '{{ template "r" . }}' + '{{ end }}'.repeat(depth);
    const e = thrown(() => parseTemplate(`{{ define "r" }}${body}{{ end }}{{ template "r" . }}`).execute({}));
    expect(e).toMatchObject({ code: TemplateErrorCode.TooDeep });
  });

  it('bounds total work, so exponential recursion ends', () => {
    const source =
      '{{ define "t" }}{{ if . }}{{ template "t" (slice . 1) }}{{ template "t" (slice . 1) }}{{ end }}{{ end }}' +
      '{{ template "t" .L }}';
    const e = thrown(() => parseTemplate(source).execute({ L: Array.from({ length: 40 }, () => 1) }));
    expect(e).toMatchObject({ code: TemplateErrorCode.TooMuchWork });
  });
});

describe('references', () => {
  const refs = (source: string) => parseTemplate(source).references();

  it('lists the .Secrets keys used, sorted and unique', () => {
    expect(
      refs(
        'B={{ .Secrets.B }}\nA={{ .Secrets.A }}\n{{ if .Secrets.C }}{{ .Secrets.C | quote }}{{ end }}{{ $.Secrets.D }}' +
          '{{ define "x" }}{{ .Secrets.E }}{{ end }}{{ printf "%s" (default "x" .Secrets.F) }}',
      ),
    ).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('is empty without secrets', () => {
    expect(refs('plain {{ "text" }}')).toEqual([]);
  });

  it.each([
    ['{{ index .Secrets "A" }}'],
    ['{{ range $k, $v := .Secrets }}{{ $k }}{{ end }}'],
    ['{{ toJson .Secrets }}'],
    ['{{ with .Secrets }}{{ .A }}{{ end }}'],
    ['{{ template "x" . }}'],
    ['{{ . }}'],
    ['{{ with .Secrets.A }}{{ $ }}{{ end }}'],
    ['{{ $s := $.Secrets }}{{ $s.A }}'],
  ])('is ["*"] when access is dynamic: %s', (source) => {
    expect(refs(source)).toEqual(['*']);
  });

  it('does not treat dot inside with/range as the data', () => {
    expect(refs('{{ with .Secrets.A }}{{ . }}{{ end }}{{ range .List }}{{ . }}{{ end }}')).toEqual(['A']);
  });
});

describe('optional references', () => {
  const optional = (source: string) => parseTemplate(source).optionalReferences();
  /** Renders with every referenced key set except `absent`. */
  const renderWithout = (source: string, absent: readonly string[]) => {
    const template = parseTemplate(source);
    const present = template.references().filter((key) => !absent.includes(key));
    return template.execute({ Secrets: new GoStringMap(present.map((key) => [key, `value-of-${key}`])) });
  };

  it.each([
    ['{{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}', ['API_URL']],
    ['{{ with .Secrets.A }}{{ . }}{{ else }}none{{ end }}', ['A']],
    ['{{ with $.Secrets.A }}{{ $.Secrets.A }}{{ end }}', ['A']],
    ['{{ .Secrets.A | default "x" }} {{ default "y" .Secrets.B }}', ['A', 'B']],
    ['{{ if and .Secrets.A .Secrets.B }}{{ .Secrets.A }}{{ .Secrets.B }}{{ end }}', ['A', 'B']],
    ['{{ if (and .Secrets.A (.Secrets.B)) }}{{ $.Secrets.B }}{{ end }}', ['A', 'B']],
    ['{{ if not .Secrets.A }}unset{{ else }}{{ .Secrets.A }}{{ end }}', ['A']],
    ['{{ if not .Secrets.A }}unset{{ else if .Secrets.B }}{{ .Secrets.A }}{{ .Secrets.B }}{{ end }}', ['A', 'B']],
    ['{{ if eq .Secrets.A "" }}unset{{ end }}{{ if or .Secrets.B .Secrets.C }}some{{ end }}', ['A', 'B', 'C']],
    ['{{ if .Secrets.A }}{{ if .Secrets.B }}{{ .Secrets.A }}{{ .Secrets.B }}{{ end }}{{ end }}', ['A', 'B']],
    ['N={{ .Secrets.N }} {{ if .Secrets.O }}{{ .Secrets.O }}{{ end }}', ['O']],
  ])('are the keys a render never needs: %s', (source, expected) => {
    expect(optional(source)).toEqual(expected);
    expect(() => renderWithout(source, expected)).not.toThrow();
  });

  it.each([
    ['{{ .Secrets.A }}{{ if .Secrets.A }}x{{ end }}', 'A'],
    ['{{ if .Secrets.A }}x{{ end }}{{ .Secrets.A }}', 'A'],
    ['{{ if .Secrets.B }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ if .Secrets.A }}x{{ else }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ if or .Secrets.A .Secrets.B }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ if eq .Secrets.A "x" }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ if not .Secrets.A }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ if .Secrets.A }}x{{ else if .Secrets.B }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ with .Secrets.A }}{{ .Secrets.A }}{{ end }}', 'A'],
    ['{{ default .Secrets.A .Secrets.B }}', 'A'],
    ['{{ range .List }}{{ if .Secrets.A }}{{ $.Secrets.A }}{{ end }}{{ end }}', 'A'],
    ['{{ define "t" }}{{ $.Secrets.A }}{{ end }}{{ if .Secrets.A }}{{ template "t" }}{{ end }}', 'A'],
  ])('leave out a key read unchecked where it may be missing: %s', (source, needed) => {
    expect(optional(source)).not.toContain(needed);
  });

  it('is empty when the template reads secrets dynamically', () => {
    expect(optional('{{ if .Secrets.A }}{{ range .Secrets }}{{ . }}{{ end }}{{ end }}')).toEqual([]);
  });
});
