export { buildMatcher, DEFAULT_MIN_LENGTH, MASK } from './redaction-matcher';
export type { RedactionMatcher, MatcherOptions, MatcherStats, RedactedBytes, RedactedText } from './redaction-matcher';
export { RedactionError, RedactionErrorCode } from './redaction-error';
export { ScanWork } from './scan-work';
