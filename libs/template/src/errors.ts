/** Why a template was refused or could not be rendered. */
export enum TemplateErrorCode {
  /** The source is not a valid template (Go's parse errors). */
  Parse = 'PARSE',
  /** Executing the template failed (Go's exec errors, e.g. a missing map key). */
  Execution = 'EXECUTION',
  /** The source exceeds the size limit. */
  SourceTooLarge = 'SOURCE_TOO_LARGE',
  /** The rendered output exceeds the size limit. */
  OutputTooLarge = 'OUTPUT_TOO_LARGE',
  /** Nesting in the source or `template` recursion at run time went deeper than the limit. */
  TooDeep = 'TOO_DEEP',
  /** An execution produced, printed or iterated more in total than its work budget, or a parse built too many nodes. */
  TooMuchWork = 'TOO_MUCH_WORK',
  /** Parsing or executing went past the caller's deadline. */
  TimeLimit = 'TIME_LIMIT',
}

interface Location {
  readonly line: number;
  readonly column: number;
}

/**
 * Base of both template errors (ARCHITECTURE.md §7): `message` is Go's core message, e.g.
 * `map has no entry for key "X"`, with the position in `line`/`column`; `goMessage` is Go's full text with its
 * `template: NAME:LINE:COL: executing "…" at <…>: ` prefix.
 */
export abstract class TemplateError extends Error {
  abstract readonly code: TemplateErrorCode;
  /** Go's full message: `template: NAME:LINE[:COL][: executing "…" at <…>]: ` + `message`. */
  readonly goMessage: string;

  protected constructor(
    goMessage: string,
    /** The same text as `message`, the name it had before `message` became Go's core message. */
    readonly reason: string,
    /** Name of the template the error occurred in (a `define`d name for errors inside one). */
    readonly templateName: string,
    location: Location,
  ) {
    super(reason);
    this.name = new.target.name;
    this.goMessage = goMessage;
    this.line = location.line;
    this.column = location.column;
  }

  /** 1-based line of the offending token or node. */
  readonly line: number;
  /** 1-based column in UTF-8 bytes, as Go counts it (Go's parse messages do not print it). */
  readonly column: number;
}

export class TemplateParseError extends TemplateError {
  constructor(
    message: string,
    reason: string,
    templateName: string,
    location: Location,
    readonly code:
      | TemplateErrorCode.Parse
      | TemplateErrorCode.SourceTooLarge
      | TemplateErrorCode.TooDeep
      | TemplateErrorCode.TooMuchWork
      | TemplateErrorCode.TimeLimit = TemplateErrorCode.Parse,
  ) {
    super(message, reason, templateName, location);
  }
}

export class TemplateExecutionError extends TemplateError {
  constructor(
    message: string,
    reason: string,
    templateName: string,
    location: Location,
    readonly code:
      | TemplateErrorCode.Execution
      | TemplateErrorCode.OutputTooLarge
      | TemplateErrorCode.TooDeep
      | TemplateErrorCode.TooMuchWork
      | TemplateErrorCode.TimeLimit = TemplateErrorCode.Execution,
  ) {
    super(message, reason, templateName, location);
  }
}
