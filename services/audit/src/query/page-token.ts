import { AuditError, AuditErrorCode } from '../audit.error';

const PREFIX = 'audit.v1:';

/** An opaque continuation: the sequence of the last record of the page (base64url, so clients do not build it). */
export function encodePageToken(lastSequence: number): string {
  return Buffer.from(`${PREFIX}${lastSequence}`, 'utf8').toString('base64url');
}

export function decodePageToken(token: string): number {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const sequence = text.startsWith(PREFIX) ? Number(text.slice(PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(sequence) || sequence < 1 || `${PREFIX}${sequence}` !== text) {
    throw new AuditError(AuditErrorCode.INVALID_PAGE_TOKEN, 'pageToken is not a token this service issued', {
      field: 'pageToken',
    });
  }
  return sequence;
}
