import { escapeEnvValue } from './output-format';

export const MASK = '********';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The ways a value can show up in an error: as it is, env-escaped, JSON/Go-quoted, and each line of a multi-line value. */
function formsOf(value: string): string[] {
  const forms = [value, escapeEnvValue(value), JSON.stringify(value).slice(1, -1)];
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r\n|\r|\n/)) {
      const trimmed = line.trim();
      if (trimmed !== '') forms.push(trimmed);
    }
  }
  return forms;
}

/**
 * Replaces every resolved value in text bound for the caller with `********`. Go's own messages quote values
 * (`range can't iterate over <value>`, `%!d(string=<value>)`), so every message and detail built after values
 * were resolved goes through here. Longest forms are matched first, so a value containing another is masked whole.
 */
export class SecretScrubber {
  private pattern: RegExp | null | undefined;

  constructor(private readonly values: readonly string[]) {}

  scrub(text: string): string {
    const pattern = this.compile();
    return pattern ? text.replace(pattern, MASK) : text;
  }

  /** String fields scrubbed; numbers (lines, columns) are positions, not values. */
  scrubDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return Object.fromEntries(
      Object.entries(details).map(([name, detail]) => [name, typeof detail === 'string' ? this.scrub(detail) : detail]),
    );
  }

  // Built on first use: only failed renders need it.
  private compile(): RegExp | null {
    if (this.pattern !== undefined) return this.pattern;
    const forms = new Set<string>();
    for (const value of this.values) for (const form of formsOf(value)) if (form !== '') forms.add(form);
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.pattern = sorted.length === 0 ? null : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    return this.pattern;
  }
}
