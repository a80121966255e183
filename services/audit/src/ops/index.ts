// The audit service's ops as apps reach them (the CLI): the one entry point an app may import (ARCHITECTURE.md §1).
export { AuditError, AuditErrorCode } from '../audit.error';
export { migrateAuditDatabase } from '../database/audit-migrations';
export { AuditStore } from '../records/audit-store.repository';
export { rebuildAuditTrail } from '../stream/audit-rebuild';
export { acknowledgeStreamGap, describeGap, openStreamGaps } from './stream-gap-ops';
