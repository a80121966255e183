import { RENDER_FORMATS, type RenderFormat } from '@platform/contracts';
import { parseAllDocuments } from 'yaml';
import { RenderError, RenderErrorCode } from './render.error';

export { type RenderFormat } from '@platform/contracts';

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

export function renderFormatOf(format: string): RenderFormat {
  if (!(RENDER_FORMATS as readonly string[]).includes(format)) {
    throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, `format must be one of ${RENDER_FORMATS.join(', ')}`, {
      field: 'format',
    });
  }
  return format as RenderFormat;
}

/**
 * A value as an env file carries it: line breaks written as `\n` (and `\r`), so a multi-line value such as a
 * certificate stays on its `KEY=VALUE` line. The same escaping the redaction service matches in logs.
 */
export function escapeEnvValue(value: string): string {
  return /[\r\n]/.test(value) ? value.replace(/\r/g, '\\r').replace(/\n/g, '\\n') : value;
}

/**
 * How a format escapes what the template's actions print: env escapes line breaks in each printed result, so
 * functions (`quote`, `b64enc`, `len`, `eq`) still see the raw value; the template's own text is left alone.
 */
export function printedEscapeFor(format: RenderFormat): ((text: string) => string) | undefined {
  return format === 'env' ? escapeEnvValue : undefined;
}

function outputError(message: string, line: number, column?: number): RenderError {
  return new RenderError(
    RenderErrorCode.TEMPLATE_OUTPUT_ERROR,
    `${message} at line ${line}`,
    column === undefined ? { line } : { line, column },
  );
}

/** Every non-blank line that is not a `#` comment must be `KEY=VALUE`; the line is named by number, never quoted (fixed text only). */
function checkEnv(output: string): void {
  const lines = output.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!ENV_ASSIGNMENT.test(line)) {
      throw outputError(
        `rendered env output is not KEY=VALUE (KEY matching ${ENV_ASSIGNMENT.source.slice(1, -1)})`,
        index + 1,
      );
    }
  }
}

/** The output must parse as YAML; the yaml parser's own messages quote the offending line, so only its code is kept. */
function checkYaml(output: string): void {
  for (const document of parseAllDocuments(output)) {
    const [first] = document.errors;
    if (first) {
      const at = first.linePos?.[0];
      const reason = first.code.toLowerCase().replace(/_/g, ' ');
      throw outputError(`rendered output is not valid YAML (${reason})`, at?.line ?? 1, at?.col);
    }
  }
}

/** Refuses output that is not valid for its format with TEMPLATE_OUTPUT_ERROR; `text` is anything. */
export function checkOutput(format: RenderFormat, output: string): void {
  switch (format) {
    case 'env':
      return checkEnv(output);
    case 'yaml':
      return checkYaml(output);
    case 'text':
      return;
    default: {
      const _exhaustive: never = format;
      return _exhaustive;
    }
  }
}
