import { escapeEnvValue } from './output-format';

export const MASK = '********';

/** Shorter values are not masked: a 1–3 character value matches inside ordinary words and would garble them. */
export const MIN_SCRUBBED_LENGTH = 4;

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
 * Replaces every resolved value (of at least MIN_SCRUBBED_LENGTH characters) in text with `********`: a defence
 * for the text of an unexpected error, which reaches only the log. Errors the caller sees never need it (the
 * template engine masks values itself). Longest forms are matched first, so a value containing another is masked whole.
 */
export class SecretScrubber {
  private pattern: RegExp | null | undefined;

  constructor(private readonly values: readonly string[]) {}

  scrub(text: string): string {
    const pattern = this.compile();
    return pattern ? text.replace(pattern, MASK) : text;
  }

  // Built on first use: only failed renders need it.
  private compile(): RegExp | null {
    if (this.pattern !== undefined) return this.pattern;
    const forms = new Set<string>();
    for (const value of this.values) {
      for (const form of formsOf(value)) if (form.length >= MIN_SCRUBBED_LENGTH) forms.add(form);
    }
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.pattern = sorted.length === 0 ? null : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    return this.pattern;
  }
}
