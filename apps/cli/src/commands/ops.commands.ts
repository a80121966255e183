import { type Command } from '../command';

/** Ops commands run against the database directly (DATABASE_URL, SECRETS_MASTER_KEYS); wired to the services' ops modules. */
export const OPS_COMMANDS: readonly Command[] = [];
