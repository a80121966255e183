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
