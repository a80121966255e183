/** Anchor-tier work allowed per input byte before the scan starts over in the automaton tier. */
export const ANCHOR_WORK_PER_BYTE = 4;
/** Anchor-tier work allowed on top, so short lines full of near misses stay on the fast path. */
export const ANCHOR_WORK_BASE = 4096;

/**
 * The work one `redactBytes` call did, counted in steps that each cost O(1): index entries visited and bytes compared
 * by the anchor tiers; transitions, failure and output links followed and bytes checked by the automaton tier.
 */
export class ScanWork {
  anchorSteps = 0;
  automatonSteps = 0;
  /** Whether the anchor tiers ran out of budget and the automaton tier scanned the input instead. */
  usedAutomaton = false;

  /** A negative `anchorBase` skips the anchor tiers, so tests can hold the automaton tier to the same answers. */
  constructor(
    readonly anchorPerByte = ANCHOR_WORK_PER_BYTE,
    readonly anchorBase = ANCHOR_WORK_BASE,
  ) {}

  /** Zeroes the counts, for another call. */
  reset(): this {
    this.anchorSteps = 0;
    this.automatonSteps = 0;
    this.usedAutomaton = false;
    return this;
  }

  get steps(): number {
    return this.anchorSteps + this.automatonSteps;
  }
}
