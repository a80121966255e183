import { DotenvError, parseDotenv } from './dotenv';

const pairs = (text: string) => parseDotenv(text).map((e) => [e.key, e.value, e.line]);

function refusal(text: string): string {
  try {
    parseDotenv(text);
  } catch (error) {
    expect(error).toBeInstanceOf(DotenvError);
    return (error as Error).message;
  }
  throw new Error('parsed without a refusal');
}

describe('parseDotenv', () => {
  it('reads unquoted values, export prefixes, comments and blank lines, with the line of each entry', () => {
    const text = [
      '# a comment',
      '',
      'API_KEY=sk-123',
      '  export DB_HOST = db.internal  ',
      'URL=https://x.example/#anchor',
      'WITH_COMMENT=value # trailing comment',
      '\t# indented comment',
      'export=literal-key-named-export',
    ].join('\n');
    expect(pairs(text)).toEqual([
      ['API_KEY', 'sk-123', 3],
      ['DB_HOST', 'db.internal', 4],
      ['URL', 'https://x.example/#anchor', 5],
      ['WITH_COMMENT', 'value', 6],
      ['export', 'literal-key-named-export', 8],
    ]);
  });

  it('keeps single-quoted values literal and expands escapes in double quotes', () => {
    expect(
      pairs(
        [
          `SINGLE='a \\n b # not a comment' # comment`,
          'DOUBLE="tab\\there \\"quoted\\" back\\\\slash \\$HOME \\q"',
          'SPACES="  kept  "',
        ].join('\n'),
      ),
    ).toEqual([
      ['SINGLE', 'a \\n b # not a comment', 1],
      ['DOUBLE', 'tab\there "quoted" back\\slash $HOME \\q', 2],
      ['SPACES', '  kept  ', 3],
    ]);
  });

  it('reads multi-line quoted values and counts their lines', () => {
    const text = 'CERT="-----BEGIN-----\nAAAA\n-----END-----"\nNEXT=1\r\nLAST=\'two\nlines\'\n';
    expect(pairs(text)).toEqual([
      ['CERT', '-----BEGIN-----\nAAAA\n-----END-----', 1],
      ['NEXT', '1', 4],
      ['LAST', 'two\nlines', 5],
    ]);
  });

  it('accepts a byte-order mark and Windows line endings, and an empty file', () => {
    expect(pairs('\uFEFFA=1\r\nB=2\r\n')).toEqual([
      ['A', '1', 1],
      ['B', '2', 2],
    ]);
    expect(parseDotenv('')).toEqual([]);
    expect(parseDotenv('\n# only comments\n\n')).toEqual([]);
  });

  it('keeps keys named like Object.prototype members', () => {
    expect(pairs('toString=a\nconstructor=b\nhasOwnProperty=c')).toEqual([
      ['toString', 'a', 1],
      ['constructor', 'b', 2],
      ['hasOwnProperty', 'c', 3],
    ]);
  });

  it('refuses bad lines naming the line number and never their text', () => {
    const secret = 'hunter2-secret-value';
    const cases: Array<[string, string]> = [
      [`A=1\nAPI-KEY=${secret}`, 'line 2: invalid key: a letter, then letters, digits or underscores (at most 256)'],
      [`A=1\n1ABC=${secret}`, 'line 2: invalid key: a letter, then letters, digits or underscores (at most 256)'],
      [`A=1\n\n${secret}`, 'line 3: expected KEY=VALUE'],
      [`=${secret}`, 'line 1: expected KEY=VALUE'],
      [`A=1\nB="${secret}\nstill open`, 'line 2: the double quote is never closed'],
      [`B='${secret}`, 'line 1: the single quote is never closed'],
      [`A="x\ny" ${secret}`, 'line 2: unexpected text after the closing quote'],
      ['A=1\nEMPTY=\n', 'line 2: empty value (a secret cannot be empty)'],
      ['EMPTY="" # nothing', 'line 1: empty value (a secret cannot be empty)'],
      [`A=${secret}\nB=2\nA=${secret}`, 'line 3: the same key as line 1'],
      [`BIG=${'x'.repeat(64 * 1024 + 1)}`, 'line 1: value over 65536 bytes (64 KiB)'],
      [
        `K${'x'.repeat(256)}=${secret}`,
        'line 1: invalid key: a letter, then letters, digits or underscores (at most 256)',
      ],
    ];
    for (const [text, message] of cases) {
      const got = refusal(text);
      expect([text.slice(0, 40), got]).toEqual([text.slice(0, 40), message]);
      expect(got).not.toContain(secret);
    }
  });

  it('accepts a value of exactly 64 KiB', () => {
    expect(parseDotenv(`BIG=${'x'.repeat(64 * 1024)}`)[0].value).toHaveLength(64 * 1024);
  });
});
