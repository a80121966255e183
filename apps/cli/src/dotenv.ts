// A `.env` file read as `secrets import` takes it: one secret per KEY=VALUE, never a value in an error.

/** ARCHITECTURE.md §2: a key is a letter, then letters, digits or underscores, at most 256 characters. */
export const SECRET_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;
/** The secrets service refuses a larger value (ARCHITECTURE.md §2, PAYLOAD_TOO_LARGE). */
export const MAX_VALUE_BYTES = 64 * 1024;

export interface DotenvEntry {
  readonly key: string;
  readonly value: string;
  /** The line the entry starts on, from 1. */
  readonly line: number;
}

/** A line the parser refuses; the message names the line and the rule, never the line's text. */
export class DotenvError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'DotenvError';
  }
}

const DOUBLE_QUOTED_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['"', '"'],
  ['\\', '\\'],
  ['$', '$'],
  ['`', '`'],
]);

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/**
 * Parses dotenv text: `KEY=VALUE` lines with an optional `export ` prefix, `#` comments and blank lines.
 * Values are unquoted (trimmed; ` #` starts a comment), single-quoted (literal) or double-quoted (escapes
 * `\n \r \t \" \\ \$`); quoted values may span lines. `${VAR}` is not expanded. Refuses an invalid or
 * repeated key, an empty or over-64-KiB value and anything else it cannot read, naming the line.
 */
export function parseDotenv(source: string): DotenvEntry[] {
  const text = source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const entries: DotenvEntry[] = [];
  const firstLineOf = new Map<string, number>();
  let i = 0;
  let line = 1;

  const skipBlanks = () => {
    while (isBlank(text[i])) i++;
  };
  const skipToEndOfLine = () => {
    while (i < text.length && text[i] !== '\n') i++;
  };

  while (i < text.length) {
    const start = line;
    skipBlanks();
    if (text[i] === '\n' || text[i] === '#' || i >= text.length) {
      skipToEndOfLine();
      i++;
      line++;
      continue;
    }
    if (text.startsWith('export', i) && isBlank(text[i + 6])) {
      i += 6;
      skipBlanks();
    }
    const keyStart = i;
    while (i < text.length && !/[=\s]/.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    skipBlanks();
    if (text[i] !== '=' || key === '') throw new DotenvError(start, 'expected KEY=VALUE');
    if (!SECRET_KEY_PATTERN.test(key)) {
      throw new DotenvError(start, 'invalid key: a letter, then letters, digits or underscores (at most 256)');
    }
    i++;
    skipBlanks();
    let value: string;
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      i++;
      let built = '';
      for (;;) {
        if (i >= text.length)
          throw new DotenvError(start, `the ${quote === '"' ? 'double' : 'single'} quote is never closed`);
        const c = text[i];
        if (c === quote) break;
        if (c === '\n') line++;
        if (c === '\\' && quote === '"' && i + 1 < text.length) {
          const escaped = DOUBLE_QUOTED_ESCAPES.get(text[i + 1]);
          if (escaped !== undefined) {
            built += escaped;
            i += 2;
            continue;
          }
        }
        built += c;
        i++;
      }
      i++;
      skipBlanks();
      if (text[i] === '#') skipToEndOfLine();
      if (i < text.length && text[i] !== '\n') throw new DotenvError(line, 'unexpected text after the closing quote');
      value = built;
    } else {
      const valueStart = i;
      skipToEndOfLine();
      const raw = text.slice(valueStart, i);
      const comment = /[ \t]#/.exec(raw);
      value = (comment ? raw.slice(0, comment.index) : raw).trimEnd();
    }
    if (value === '') throw new DotenvError(start, 'empty value (a secret cannot be empty)');
    if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
      throw new DotenvError(start, `value over ${MAX_VALUE_BYTES} bytes (64 KiB)`);
    }
    const earlier = firstLineOf.get(key);
    if (earlier !== undefined) throw new DotenvError(start, `the same key as line ${earlier}`);
    firstLineOf.set(key, start);
    entries.push({ key, value, line: start });
    i++;
    line++;
  }
  return entries;
}
