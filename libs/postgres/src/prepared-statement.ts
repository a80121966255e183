import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

/** How statements are sent; `prepared` is for hot statements with a fixed text (values only in parameters). */
export interface QueryOptions {
  readonly prepared?: boolean;
  /** This statement's own client-side timeout, below the pool's (a request a caller waits on). */
  readonly timeoutMs?: number;
}

/** Distinct texts prepared per connection at most; beyond it (a caller building texts dynamically) none are named. */
const MAX_PREPARED_TEXTS = 256;
const names = new Map<string, string>();

/**
 * A query as `pg` sends it. A prepared one is named after its text: `pg` parses it once per connection and Postgres
 * keeps the parsed statement (and, after five runs, a generic plan when that is as good), so each later run costs
 * bind and execute only, instead of parse, plan, bind and execute.
 */
export function statement(text: string, values: unknown[] | undefined, options?: QueryOptions): QueryConfig {
  // pg reads `query_timeout` per statement too; its types do not declare it.
  if (options?.timeoutMs !== undefined)
    return { ...named(text, values, options), query_timeout: options.timeoutMs } as QueryConfig;
  return named(text, values, options);
}

function named(text: string, values: unknown[] | undefined, options?: QueryOptions): QueryConfig {
  if (!options?.prepared) return { text, values };
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_PREPARED_TEXTS) return { text, values };
    name = `es_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
    names.set(text, name);
  }
  return { name, text, values };
}
