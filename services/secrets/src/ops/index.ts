// The secrets service's ops as apps reach them (the CLI): the one entry point an app may import (ARCHITECTURE.md §1).
export { SecretsOperations, describeRebase } from './secrets-operations';
export type { RebindReport } from '../secrets/value-rebinding';
export { progressBar } from './progress-bar';
export { loadSecretsConfig } from '../secrets.definition';
