/**
 * @module A circuit breaker for the origin: opens after N consecutive failures so callers fail fast (no connect,
 * no timeout), lets one probe through after a cool-down (half-open), and closes again when the probe succeeds.
 * The clock is injected so tests and the benchmark can drive it without sleeping.
 *
 * Written here rather than taken from cockatiel (tried): cockatiel 3.2 creates and aborts an AbortController when
 * its module loads, which workerd refuses in a Worker's global scope ("Disallowed operation called within global
 * scope"), so `wrangler dev` and deploys fail; cockatiel 4 needs Node ≥ 22 (this project supports Node 20). Its
 * half-open state also queues callers behind the probe, where the edge wants them to fail fast and fall back.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe may pass. */
  cooldownMs: number;
  now?: () => number;
}

/** What `acquire` answers: go ahead (as a normal call or as the one probe), or fail fast for `retryAfterMs`. */
export type Permit = { allowed: true; probe: boolean } | { allowed: false; retryAfterMs: number };

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) return 'half-open';
    return this.current;
  }

  /** Asks to make a call. In half-open only one call (the probe) is in flight; the others still fail fast. */
  acquire(): Permit {
    const state = this.state;
    if (state === 'closed') return { allowed: true, probe: false };
    if (state === 'half-open' && !this.probing) {
      this.probing = true;
      return { allowed: true, probe: true };
    }
    return { allowed: false, retryAfterMs: Math.max(0, this.options.cooldownMs - (this.now() - this.openedAt)) };
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.current = 'closed';
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    // A failed probe re-opens at once: the origin has just shown it is still down.
    if (this.current !== 'closed' || this.failures >= this.options.failureThreshold) {
      this.current = 'open';
      this.openedAt = this.now();
    }
  }

  snapshot(): { state: BreakerState; failures: number } {
    return { state: this.state, failures: this.failures };
  }
}
