import { RenderError, RenderErrorCode } from './render.error';
import { checkOutput, escapeEnvValue, printedEscapeFor, renderFormatOf } from './output-format';

function refusal(run: () => void): RenderError {
  try {
    run();
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
  throw new Error('expected a RenderError');
}

describe('render formats', () => {
  it('accepts env, yaml and text and refuses anything else by name', () => {
    expect(['env', 'yaml', 'text'].map(renderFormatOf)).toEqual(['env', 'yaml', 'text']);
    const error = refusal(() => renderFormatOf('json'));
    expect(error.code).toBe(RenderErrorCode.INVALID_ARGUMENT);
    expect(error.message).toBe('format must be one of env, yaml, text');
  });

  it('escapes line breaks in env values so a multi-line value stays on its line', () => {
    expect(escapeEnvValue('-----BEGIN-----\nabc\r\n-----END-----')).toBe('-----BEGIN-----\\nabc\\r\\n-----END-----');
    expect(escapeEnvValue('plain')).toBe('plain');
    expect(printedEscapeFor('env')?.('a\nb')).toBe('a\\nb');
    expect(printedEscapeFor('yaml')).toBeUndefined();
    expect(printedEscapeFor('text')).toBeUndefined();
  });

  describe('env', () => {
    it('accepts KEY=VALUE lines, blank lines and comments', () => {
      expect(() => checkOutput('env', '# comment\n\nAPI_KEY=abc\n_X=\r\n  # indented comment\nB=c=d\n')).not.toThrow();
    });

    it.each([
      ['a line without =', 'A=1\nnot an assignment\n', 2],
      ['a key starting with a digit', '1A=x', 1],
      ['a space before =', 'A=1\nB=2\nKEY =x', 3],
      ['a continuation line', 'A=1\n  continued', 2],
      ['export', 'export A=1', 1],
    ])('refuses %s with its line number and without quoting the line', (_, output, line) => {
      const error = refusal(() => checkOutput('env', output));
      expect(error.code).toBe(RenderErrorCode.TEMPLATE_OUTPUT_ERROR);
      expect(error.message).toBe(
        `rendered env output is not KEY=VALUE (KEY matching [A-Za-z_][A-Za-z0-9_]*) at line ${line}`,
      );
      expect(error.details).toEqual({ line });
    });
  });

  describe('yaml', () => {
    it('accepts YAML, including several documents', () => {
      expect(() => checkOutput('yaml', 'database:\n  password: "x"\n---\napi:\n  url: y\n')).not.toThrow();
    });

    it('refuses output that does not parse, naming the line and the kind of error only', () => {
      const output = 'database:\n  host: db\n password: hunter2-value: x\n';
      const error = refusal(() => checkOutput('yaml', output));
      expect(error.code).toBe(RenderErrorCode.TEMPLATE_OUTPUT_ERROR);
      expect(error.message).toMatch(/^rendered output is not valid YAML \([a-z ]+\) at line 3$/);
      expect(JSON.stringify([error.message, error.details])).not.toContain('hunter2');
    });

    it('refuses duplicate keys', () => {
      const error = refusal(() => checkOutput('yaml', 'a: 1\na: 2\n'));
      expect(error.message).toBe('rendered output is not valid YAML (duplicate key) at line 2');
    });
  });

  it('text accepts anything', () => {
    expect(() => checkOutput('text', 'not: [valid\nnor env')).not.toThrow();
  });
});
