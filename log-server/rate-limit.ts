/**
 * Per-client token buckets for submissions (DESIGN.md section 5: rate limits per client). Each
 * client IP gets `rate` tokens per second and may burst up to `burst`; a submission costs one.
 * Idle, refilled buckets are forgotten so the map stays bounded by the number of active clients.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  /** `rate` 0 turns limiting off. */
  constructor(private readonly rate: number, burst?: number, private readonly now: () => number = () => performance.now()) {
    this.burst = burst ?? Math.max(1, Math.ceil(rate * 2));
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Takes a token for `client`: 0 if allowed, otherwise the seconds until one is available. */
  take(client: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= 100_000) this.sweep(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.rate;
  }

  /** Forgets buckets that would be full by now (their clients have been idle). */
  private sweep(t: number): void {
    for (const [client, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(client);
    }
  }
}
