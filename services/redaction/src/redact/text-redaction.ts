import { Injectable } from '@nestjs/common';
import { type RedactRequest } from '@platform/contracts';
import { type Principal } from '@platform/messaging';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { MAX_LOG_MESSAGE_BYTES } from '../logs/log-message';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';
import { RedactionMetrics } from '../redaction.metrics';
import { redactScopeOf } from './redact-scope';

/** `redaction.v1.redact`: one text masked with the caller's scope's matcher, the same one the log stream uses. */
@Injectable()
export class TextRedaction {
  constructor(
    private readonly matchers: ScopeMatchers,
    private readonly metrics: RedactionMetrics,
  ) {}

  async redact(principal: Principal, request: RedactRequest): Promise<{ text: string; redactions: number }> {
    const scope = redactScopeOf(principal, request);
    if (Buffer.byteLength(request.text, 'utf8') > MAX_LOG_MESSAGE_BYTES) {
      throw new RedactionServiceError(RedactionServiceErrorCode.TOO_LARGE, 'text must be at most 1 MiB');
    }
    const matcher = await this.matchers.matcherFor(scope);
    const { output, count } = matcher.redactText(request.text);
    this.metrics.redactedRequest(count);
    return { text: output, redactions: count };
  }
}
