import pino, { type Logger, type LoggerOptions } from 'pino';

export const SCRUBBED = '[scrubbed]';

/** Field names that carry secret material anywhere in a log object: values, plaintext, tokens, key material, ciphertext. */
const SENSITIVE_FIELD =
  /^(?:value|values|plaintext|secret|secrets|password|token|authorization|ciphertext|jwe|replyKey|privateKey|k|d|wrapped|dataKey|text|template|output)$/i;

const MAX_DEPTH = 8;

/** An error code worth keeping (`ECONNREFUSED`, a SQLSTATE, `ERR_…`): short, no spaces, so it cannot carry a value. */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * What a log keeps of an error: its class, its code and where it was thrown. Its message (and the first stack line,
 * which repeats it) may quote anything the failing code touched, a secret value included, so it is never written.
 */
export function describeError(error: Error, depth = 0): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim());
  const described: Record<string, unknown> = { type: error.name, frames };
  if (typeof code === 'string' && ERROR_CODE.test(code)) described.code = code;
  if (error.cause instanceof Error && depth < 3) described.cause = describeError(error.cause, depth + 1);
  return described;
}

/**
 * Patterns that are secret material whatever field or sentence they sit in: bearer credentials, compact JWS/JWE
 * (tokens, resolve replies) and PEM private keys. Applied to every log message, which field names cannot protect.
 */
const SENSITIVE_TEXT = [
  /\bBearer\s+[^\s"',;]+/gi,
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){1,3}/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

export function scrubText(text: string): string {
  return SENSITIVE_TEXT.reduce((scrubbed, pattern) => scrubbed.replace(pattern, SCRUBBED), text);
}

/** Returns a copy of a log object with every sensitive field replaced, at any depth. */
export function scrubLogObject(input: unknown, depth = 0): unknown {
  if (typeof input === 'string') return scrubText(input);
  if (input === null || typeof input !== 'object') return input;
  if (depth >= MAX_DEPTH) return '[depth]';
  if (input instanceof Error) return describeError(input);
  if (Array.isArray(input)) return input.map((item) => scrubLogObject(item, depth + 1));
  if (input instanceof Uint8Array) return `[${input.byteLength} bytes]`;
  // Null-prototype: a `__proto__` field (JSON.parse makes it an own property) would otherwise set the prototype.
  const output = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    output[key] = SENSITIVE_FIELD.test(key) ? SCRUBBED : scrubLogObject(value, depth + 1);
  }
  return output;
}

/** pino options for every service: JSON lines, service name, and the scrubbing formatter. */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubLogObject(object) as Record<string, unknown>,
    },
    hooks: {
      // The message string never passes the object formatter: scrub it here, whichever argument carries it.
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? scrubText(arg) : arg));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
}

export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(service, level), destination) : pino(loggerOptions(service, level));
}
