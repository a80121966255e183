import { getHeapStatistics } from 'node:v8';
import {
  GoStringMap,
  type Template,
  TemplateErrorCode,
  TemplateExecutionError,
  TemplateParseError,
} from '@platform/template';
import { type RenderFormat, checkOutput, printedEscapeFor } from './output-format';
import { RenderError, RenderErrorCode } from './render.error';
import { MASK, SecretScrubber } from './secret-scrubber';
import { type TemplateCache } from './template-cache';

/** Parse (cached) and list the template's `.Secrets` references. */
export interface ParseJob {
  readonly kind: 'parse';
  readonly source: string;
  /** Epoch ms by which the engine gives up (Date.now() scale). */
  readonly deadline: number;
}

/** Execute the template with the resolved values, then check the output's format. */
export interface ExecuteJob {
  readonly kind: 'execute';
  readonly source: string;
  readonly format: RenderFormat;
  /** KEY → value, as resolved for this render. */
  readonly values: readonly (readonly [string, string])[];
  readonly deadline: number;
}

export type TemplateJob = ParseJob | ExecuteJob;

export interface Parsed {
  readonly references: readonly string[];
  /** The references a render never needs (Template.optionalReferences). */
  readonly optional: readonly string[];
}

export interface Executed {
  readonly output: string;
  /** The keys the execution read. */
  readonly used: readonly string[];
}

export type JobResult<J extends TemplateJob> = J extends ExecuteJob ? Executed : Parsed;

/** A refusal as it crosses the thread boundary: RenderError's fields, or an unexpected error already scrubbed. */
export type JobFailure =
  | { readonly kind: 'refusal'; readonly code: RenderErrorCode; readonly message: string; readonly details?: object }
  | { readonly kind: 'internal'; readonly message: string; readonly stack?: string };

/** What a worker knows about itself, sent with every answer. */
export interface WorkerStats {
  readonly heapUsedBytes: number;
  readonly cacheEntries: number;
  readonly cacheBytes: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
}

export type JobOutcome =
  { readonly ok: true; readonly result: Parsed | Executed } | { readonly ok: false; readonly failure: JobFailure };

/** Parse-error wording of the seed: `template parsing error: unexpected "}" in operand`. */
function parseFailure(error: TemplateParseError): RenderError {
  // Too large for the limits (size or node count): the caller must send less, not fix a syntax error.
  if (error.code === TemplateErrorCode.SourceTooLarge || error.code === TemplateErrorCode.TooMuchWork) {
    return new RenderError(RenderErrorCode.TEMPLATE_TOO_LARGE, `template parsing error: ${error.message}`);
  }
  // Out of time is not a place in the source.
  if (error.code === TemplateErrorCode.TimeLimit) {
    return new RenderError(RenderErrorCode.TEMPLATE_PARSE_ERROR, `template parsing error: ${error.message}`);
  }
  return new RenderError(RenderErrorCode.TEMPLATE_PARSE_ERROR, `template parsing error: ${error.message}`, {
    line: error.line,
    column: error.column,
  });
}

/** Every value Go would print into an execution error is shown as the mask: it comes from the data. */
const maskValue = (): string => MASK;

/**
 * `.Secrets` as Distr passes it, Go's map[string]string (ARCHITECTURE.md §7), recording each key whose value
 * the execution reads: by name, by `index`, by `range`, or by printing the whole map.
 */
function trackedSecrets(values: ExecuteJob['values'], used: Set<string>): GoStringMap {
  return new GoStringMap(values, (key) => used.add(key));
}

function parsed(cache: TemplateCache, source: string, deadline: number): Template {
  try {
    return cache.parse(source, deadline);
  } catch (error) {
    throw error instanceof TemplateParseError ? parseFailure(error) : error;
  }
}

function parse(cache: TemplateCache, job: ParseJob): Parsed {
  const template = parsed(cache, job.source, job.deadline);
  return { references: template.references(), optional: template.optionalReferences() };
}

/** Re-parses when this worker's cache no longer holds the template (evicted, or a parse on another worker). */
function execute(cache: TemplateCache, job: ExecuteJob): Executed {
  const template = parsed(cache, job.source, job.deadline);
  const used = new Set<string>();
  try {
    const output = template.execute(
      { Secrets: trackedSecrets(job.values, used) },
      { describeValue: maskValue, escapePrinted: printedEscapeFor(job.format), deadline: job.deadline },
    );
    checkOutput(job.format, output);
    return { output, used: [...used] };
  } catch (error) {
    throw callerFailure(error);
  }
}

/**
 * An execution or output failure as the caller sees it. No value can be in either, by construction, so their
 * text is passed on unaltered (a text scrub would also mask a short value inside Go's fixed wording):
 * the engine showed every value it formats into a message as the mask (describeValue), and the output
 * checks say only a line number and fixed text.
 */
function callerFailure(error: unknown): unknown {
  if (error instanceof TemplateExecutionError) {
    return new RenderError(RenderErrorCode.TEMPLATE_EXECUTION_ERROR, `template execution error: ${error.message}`, {
      line: error.line,
      column: error.column,
    });
  }
  return error;
}

/** Runs one job against a worker's cache; every failure comes back as data, scrubbed of the job's values. */
export function runTemplateJob(cache: TemplateCache, job: TemplateJob): JobOutcome {
  try {
    return { ok: true, result: job.kind === 'parse' ? parse(cache, job) : execute(cache, job) };
  } catch (error) {
    if (error instanceof RenderError) {
      return {
        ok: false,
        failure: { kind: 'refusal', code: error.code, message: error.message, details: error.details },
      };
    }
    // Anything else is a bug: INTERNAL on the wire, and its text reaches the log only scrubbed of the values.
    const scrubber = new SecretScrubber(job.kind === 'execute' ? job.values.map(([, value]) => value) : []);
    const message = `rendering failed: ${scrubber.scrub(error instanceof Error ? error.message : String(error))}`;
    const stack = error instanceof Error && error.stack ? scrubber.scrub(error.stack) : undefined;
    return { ok: false, failure: { kind: 'internal', message, stack } };
  }
}

/** The error a job failure stands for, on the thread that answers the request. */
export function failureError(failure: JobFailure): Error {
  if (failure.kind === 'refusal') {
    return new RenderError(failure.code, failure.message, failure.details as Record<string, unknown> | undefined);
  }
  const internal = new Error(failure.message);
  internal.stack = failure.stack ?? internal.stack;
  return internal;
}

export function workerStats(cache: TemplateCache): WorkerStats {
  return {
    heapUsedBytes: getHeapStatistics().used_heap_size,
    cacheEntries: cache.size,
    cacheBytes: cache.bytes,
    cacheHits: cache.hits,
    cacheMisses: cache.misses,
  };
}
