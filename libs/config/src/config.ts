import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/** The environment a configuration is read from (process.env in production, a plain object in tests). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Reads one setting; returns the value or pushes a problem (and returns undefined). */
export interface Setting<T> {
  readonly variable: string;
  /** Sensitive settings are never printed: not in problems, not in logs. */
  readonly sensitive: boolean;
  read(env: Environment, problems: string[]): T | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Values<S> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/**
 * Reads every setting, reports every problem together, and returns a frozen, typed object. `check` sees the values
 * read (undefined where a setting failed) and adds problems of its own, reported with the rest.
 */
export function loadConfig<S extends Record<string, Setting<unknown>>>(
  settings: S,
  env: Environment,
  check?: (values: Readonly<Record<string, unknown>>, problems: string[]) => void,
): Values<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    values[name] = setting.read(env, problems);
  }
  check?.(values, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values) as Values<S>;
}

function raw(env: Environment, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function stringSetting(
  variable: string,
  options: { default: string; pattern?: RegExp; description?: string },
): Setting<string> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = env[variable] ?? options.default;
      if (options.pattern && !options.pattern.test(value)) {
        problems.push(`${variable} must be ${options.description ?? `match ${options.pattern}`} (got "${value}")`);
        return undefined;
      }
      return value;
    },
  };
}

/** A comma-separated list, each item matching `itemPattern`; empty or unset means the default, never an empty list. */
export function listSetting(
  variable: string,
  options: { default: readonly string[]; itemPattern: RegExp; description: string },
): Setting<readonly string[]> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = raw(env, variable);
      if (value === undefined) return Object.freeze([...options.default]);
      const items = value.split(',').map((item) => item.trim());
      const bad = items.filter((item) => !options.itemPattern.test(item));
      if (bad.length > 0) {
        problems.push(`${variable} must be a comma-separated list of ${options.description} (got "${value}")`);
        return undefined;
      }
      return Object.freeze(items);
    },
  };
}

/** A credential such as a password: optional, never printed. */
export function sensitiveStringSetting(variable: string): Setting<string | undefined> {
  return {
    variable,
    sensitive: true,
    read: (env) => raw(env, variable),
  };
}

/** Why `value` is not a URL of one of `protocols`, or undefined when it is one. */
function urlProblem(variable: string, value: string, protocols: readonly string[]): string | undefined {
  try {
    if (!protocols.includes(new URL(value).protocol)) return `${variable} must be a ${protocols.join(' or ')} URL`;
  } catch {
    return `${variable} is not a valid URL`;
  }
  return undefined;
}

export function urlSetting(variable: string, defaultValue: string, protocols: readonly string[]): Setting<string> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = raw(env, variable) ?? defaultValue;
      const problem = urlProblem(variable, value, protocols);
      if (problem === undefined) return value;
      problems.push(problem);
      return undefined;
    },
  };
}

/** The servers of a comma-separated URL list (the NATS convention: `nats://a:4222,nats://b:4222`). */
export function urlList(value: string): string[] {
  return value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/** A comma-separated list of URLs, each of one of `protocols`; the value stays the list as written. */
export function urlListSetting(variable: string, defaultValue: string, protocols: readonly string[]): Setting<string> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = raw(env, variable) ?? defaultValue;
      const urls = urlList(value);
      if (urls.length === 0) {
        problems.push(`${variable} names no server`);
        return undefined;
      }
      const found = urls.map((url, index) =>
        urlProblem(urls.length === 1 ? variable : `${variable} entry ${index + 1}`, url, protocols),
      );
      const problem = found.find((p) => p !== undefined);
      if (problem === undefined) return urls.join(',');
      problems.push(problem);
      return undefined;
    },
  };
}

export function integerSetting(
  variable: string,
  options: { default: number; min: number; max: number },
): Setting<number> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = raw(env, variable);
      if (value === undefined) return options.default;
      const parsed = Number(value);
      if (!/^\d+$/.test(value) || parsed < options.min || parsed > options.max) {
        problems.push(`${variable} must be an integer from ${options.min} to ${options.max} (got "${value}")`);
        return undefined;
      }
      return parsed;
    },
  };
}

export function enumSetting<T extends string>(variable: string, allowed: readonly T[], defaultValue: T): Setting<T> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const value = raw(env, variable) ?? defaultValue;
      if (!(allowed as readonly string[]).includes(value)) {
        problems.push(`${variable} must be one of ${allowed.join(', ')} (got "${value}")`);
        return undefined;
      }
      return value as T;
    },
  };
}

/** Where a piece of key material came from: the dev default file or the operator's own setting. */
export interface KeyMaterial {
  readonly json: unknown;
  readonly source: string;
  readonly isDevDefault: boolean;
}

/**
 * JSON key material from `NAME` (inline) or `NAME_FILE` (a path), falling back to a dev-only file.
 * Sensitive: problems name the variable, never the content.
 */
export function keyMaterialSetting(variable: string, devDefaultFile: string, rootDir: string): Setting<KeyMaterial> {
  return {
    variable,
    sensitive: true,
    read(env, problems) {
      const inline = raw(env, variable);
      const file = raw(env, `${variable}_FILE`);
      if (inline !== undefined && file !== undefined) {
        problems.push(`set only one of ${variable} and ${variable}_FILE`);
        return undefined;
      }
      if (inline !== undefined) {
        try {
          return { json: JSON.parse(inline), source: variable, isDevDefault: false };
        } catch {
          problems.push(`${variable} is not valid JSON`);
          return undefined;
        }
      }
      const path = file ?? devDefaultFile;
      const absolute = isAbsolute(path) ? path : resolve(rootDir, path);
      let text: string;
      try {
        text = readFileSync(absolute, 'utf8');
      } catch {
        problems.push(`${file ? `${variable}_FILE` : `${variable} (dev default)`}: cannot read ${absolute}`);
        return undefined;
      }
      try {
        return { json: JSON.parse(text), source: absolute, isDevDefault: file === undefined };
      } catch {
        problems.push(`${file ? `${variable}_FILE` : variable}: ${absolute} is not valid JSON`);
        return undefined;
      }
    },
  };
}
