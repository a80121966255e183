import { Injectable } from '@nestjs/common';
import { type RedactRequest } from '@platform/contracts';
import { type Principal } from '@platform/messaging';
import { ScopeMatchers } from '../matchers/scope-matchers';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';
import { RedactionMetrics } from '../redaction.metrics';
import { RedactAdmission } from './redact-admission';
import { redactScopeOf } from './redact-scope';

/**
 * What a request waits for before its matcher is taken, as a raw log line does: the settle time
 * (REDACTION_SETTLE_MS), then every change already in SECRETS_EVENTS applied to the matchers (throws when it is not
 * in time).
 */
export class RequestBarrier {
  constructor(
    readonly settleMs: number,
    readonly changesApplied: () => Promise<void>,
  ) {}
}

/** The longest value a secret may hold; its worst text costs ~17 ms of CPU once the matcher is warm (README). */
export const DEFAULT_MAX_TEXT_BYTES = 64 * 1024;

/**
 * The longest text a request may carry (REDACTION_MAX_TEXT_BYTES): masking runs on the event loop, so this bounds
 * how long one request can hold every other tenant's work (`npm run bench -- redaction-request`).
 */
export class TextLimit {
  constructor(readonly maxBytes: number) {}

  assertFits(text: string): void {
    if (Buffer.byteLength(text, 'utf8') <= this.maxBytes) return;
    const size = this.maxBytes % 1024 === 0 ? `${this.maxBytes / 1024} KiB` : `${this.maxBytes} bytes`;
    throw new RedactionServiceError(
      RedactionServiceErrorCode.TOO_LARGE,
      `text must be at most ${size} (REDACTION_MAX_TEXT_BYTES); ship longer logs on logs.raw`,
    );
  }
}

/**
 * `redaction.v1.redact`: one text masked with the caller's scope's matcher, the same one the log stream uses. Like
 * a log line, a request waits the settle time and the SECRETS_EVENTS catch-up first, so a secret written just
 * before it is masked; if the catch-up fails, the request is refused as UNAVAILABLE rather than redacted with a
 * matcher that may be stale. The work runs when the calling organization has a turn (RedactAdmission).
 */
@Injectable()
export class TextRedaction {
  constructor(
    private readonly matchers: ScopeMatchers,
    private readonly metrics: RedactionMetrics,
    private readonly barrier: RequestBarrier,
    private readonly admission: RedactAdmission,
    private readonly limit: TextLimit,
  ) {}

  async redact(principal: Principal, request: RedactRequest): Promise<{ text: string; redactions: number }> {
    const scope = redactScopeOf(principal, request);
    this.limit.assertFits(request.text);
    // The settle time passes while the request waits for its turn, not in it.
    const settled = new Promise((resolve) => setTimeout(resolve, this.barrier.settleMs));
    return this.admission.run(principal.org, async () => {
      await settled;
      await this.barrier.changesApplied().catch(() => {
        throw new RedactionServiceError(
          RedactionServiceErrorCode.MATCHER_UNAVAILABLE,
          'secret changes not applied in time',
        );
      });
      const matcher = await this.matchers.matcherFor(scope);
      const { output, count } = matcher.redactText(request.text);
      this.metrics.redactedRequest(count);
      return { text: output, redactions: count };
    });
  }
}
