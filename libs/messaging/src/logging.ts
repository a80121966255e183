import pino, { type Logger, type LoggerOptions } from 'pino';

export const SCRUBBED = '[scrubbed]';

/** Field names that carry secret material anywhere in a log object: values, plaintext, tokens, key material, ciphertext. */
const SENSITIVE_FIELD =
  /^(?:value|values|plaintext|secret|secrets|password|token|authorization|ciphertext|jwe|replyKey|privateKey|k|d|wrapped|dataKey|text|template|output)$/i;

const MAX_DEPTH = 8;

/** Returns a copy of a log object with every sensitive field replaced, at any depth. */
export function scrubLogObject(input: unknown, depth = 0): unknown {
  if (input === null || typeof input !== 'object') return input;
  if (depth >= MAX_DEPTH) return '[depth]';
  if (input instanceof Error) return { type: input.name, stack: input.stack };
  if (Array.isArray(input)) return input.map((item) => scrubLogObject(item, depth + 1));
  if (input instanceof Uint8Array) return `[${input.byteLength} bytes]`;
  const output: Record<string, unknown> = {};
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
  };
}

export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(service, level), destination) : pino(loggerOptions(service, level));
}
