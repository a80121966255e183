import fc from 'fast-check';
import { TemplateExecutionError, TemplateParseError, parseTemplate } from '@platform/template';

/** Fragments that make random sources look like templates, so the parser gets past the first token. */
const fragment = fc.oneof(
  fc.constantFrom(
    '{{',
    '}}',
    '{{-',
    '-}}',
    '{{ ',
    ' }}',
    '{{/*',
    '*/}}',
    '(',
    ')',
    '|',
    ':=',
    '=',
    ',',
    '$',
    '$x',
    '$_',
    '.',
    '..',
    '.Secrets',
    '.Secrets.A',
    '.Nope',
    ' ',
    '\n',
    '\t',
    '"',
    '`',
    "'",
    '\\',
    'if',
    'else',
    'end',
    'range',
    'with',
    'define',
    'template',
    'block',
    'break',
    'continue',
    'nil',
    'true',
    'false',
    'and',
    'or',
    'not',
    'eq',
    'lt',
    'len',
    'index',
    'slice',
    'print',
    'printf',
    'println',
    'html',
    'js',
    'urlquery',
    'call',
    'default',
    'quote',
    'required',
    'b64dec',
    'indent',
    'toJson',
    'upper',
    '0x1F',
    '1e3',
    '-1',
    '1.5',
    "'a'",
    '2i',
    '"s"',
    '`raw`',
    '"%d %s %v %q %x %5.2f %!"',
    '☺',
    'é',
    '\u0000',
  ),
  fc.string({ maxLength: 4 }),
);
const templateLike = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(''));

const data = {
  Secrets: { A: 'alpha', B: '', C: 'line1\nline2' },
  List: ['a', 'b'],
  Map: { k: 1 },
  Num: 3,
  Nil: null,
};

describe('parser and executor properties', () => {
  it('parsing random input either succeeds or throws TemplateParseError', () => {
    fc.assert(
      fc.property(fc.oneof(templateLike, fc.string({ unit: 'binary', maxLength: 200 })), (source) => {
        try {
          parseTemplate(source);
        } catch (e) {
          if (!(e instanceof TemplateParseError)) throw e;
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('executing whatever parses either renders or throws TemplateExecutionError', () => {
    fc.assert(
      fc.property(templateLike, (source) => {
        let template;
        try {
          template = parseTemplate(source);
        } catch (e) {
          if (e instanceof TemplateParseError) return;
          throw e;
        }
        try {
          expect(typeof template.execute(data)).toBe('string');
        } catch (e) {
          if (!(e instanceof TemplateExecutionError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('text without actions renders as itself', () => {
    const text = fc.string({ unit: 'binary', maxLength: 300 }).map((s) => s.replaceAll('{{', '{ {'));
    fc.assert(
      fc.property(text, (source) => {
        expect(parseTemplate(source).execute(data)).toBe(source);
      }),
      { numRuns: 2000 },
    );
  });

  it('references() never throws and lists keys the template reads', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/), { maxLength: 8 }), (keys) => {
        const source = keys.map((k) => `${k}={{ .Secrets.${k} }}`).join('\n');
        const template = parseTemplate(source);
        expect(template.references()).toEqual([...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(template.execute({ Secrets: Object.fromEntries(keys.map((k) => [k, `v-${k}`])) })).toBe(
          keys.map((k) => `${k}=v-${k}`).join('\n'),
        );
      }),
    );
  });
});

describe('optionalReferences()', () => {
  const KEYS = ['A', 'B', 'C'];
  const key = fc.constantFrom(...KEYS);
  const read = key.chain((k) => fc.constantFrom(`.Secrets.${k}`, `$.Secrets.${k}`));
  const { condition } = fc.letrec<{ condition: string }>((tie) => ({
    condition: fc.oneof(
      { depthSize: 'small' },
      read,
      fc.tuple(tie('condition'), tie('condition')).map(([a, b]) => `and (${a}) (${b})`),
      fc.tuple(tie('condition'), tie('condition')).map(([a, b]) => `or (${a}) (${b})`),
      tie('condition').map((c) => `not (${c})`),
      read.map((r) => `eq ${r} "x"`),
    ),
  }));
  const { body } = fc.letrec<{ body: string }>((tie) => ({
    body: fc.oneof(
      { depthSize: 'small' },
      read.map((r) => `{{ ${r} }}`),
      read.map((r) => `{{ ${r} | default "d" }}`),
      read.map((r) => `{{ with ${r} }}[{{ . }}]{{ end }}`),
      fc.tuple(condition, tie('body'), tie('body')).map(([c, t, e]) => `{{ if ${c} }}${t}{{ else }}${e}{{ end }}`),
      fc.tuple(tie('body'), tie('body')).map(([a, b]) => a + b),
    ),
  }));

  it('names only keys a render can do without: with every absent key optional, the render succeeds', () => {
    fc.assert(
      fc.property(body, fc.subarray(KEYS), (source, present) => {
        const template = parseTemplate(source);
        const optional = template.optionalReferences();
        const absent = template.references().filter((k) => !present.includes(k));
        fc.pre(absent.every((k) => optional.includes(k)));
        const secrets = Object.fromEntries(present.map((k) => [k, `v-${k}`]));
        expect(() => template.execute({ Secrets: secrets })).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });
});
