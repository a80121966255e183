export { advisoryLockKey } from './advisory-lock-key';
export { UNIQUE_VIOLATION, constraintOf, isSilentConnection, isUnavailable, sqlState } from './postgres-errors';
export {
  CONNECT_TIMEOUT_MS,
  IDLE_IN_TRANSACTION_TIMEOUT_MS,
  PostgresPool,
  sessionOptions,
  type PostgresLogger,
  type PostgresPoolOptions,
} from './postgres-pool';
export { statement, type QueryOptions } from './prepared-statement';
