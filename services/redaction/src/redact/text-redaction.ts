import { Injectable } from '@nestjs/common';
import { type RedactRequest } from '@platform/contracts';
import { type Principal } from '@platform/messaging';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { MAX_LOG_MESSAGE_BYTES } from '../logs/log-message';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';
import { RedactionMetrics } from '../redaction.metrics';
import { redactScopeOf } from './redact-scope';

/** How long a request waits before its matcher is taken (REDACTION_SETTLE_MS), as a raw log line does. */
export class RequestSettle {
  constructor(readonly ms: number) {}
}

/**
 * `redaction.v1.redact`: one text masked with the caller's scope's matcher, the same one the log stream uses. Like
 * a log line, a request waits the settle time first, so a secret written just before it is masked.
 */
@Injectable()
export class TextRedaction {
  constructor(
    private readonly matchers: ScopeMatchers,
    private readonly metrics: RedactionMetrics,
    private readonly settle: RequestSettle,
  ) {}

  async redact(principal: Principal, request: RedactRequest): Promise<{ text: string; redactions: number }> {
    const scope = redactScopeOf(principal, request);
    if (Buffer.byteLength(request.text, 'utf8') > MAX_LOG_MESSAGE_BYTES) {
      throw new RedactionServiceError(RedactionServiceErrorCode.TOO_LARGE, 'text must be at most 1 MiB');
    }
    if (this.settle.ms > 0) await new Promise((resolve) => setTimeout(resolve, this.settle.ms));
    const matcher = await this.matchers.matcherFor(scope);
    const { output, count } = matcher.redactText(request.text);
    this.metrics.redactedRequest(count);
    return { text: output, redactions: count };
  }
}
