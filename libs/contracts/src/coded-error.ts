/**
 * The one shape of the platform's deliberate errors: a `code` callers switch on, a message that is safe to show
 * (it names keys, fields, scopes or rules, never a value, token or key), and optional details for the wire. The
 * error's `name` is its class's name.
 */
export abstract class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
