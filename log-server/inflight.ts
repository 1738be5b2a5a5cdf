/**
 * A byte budget for submissions in flight (docs/operating.md, "Limits"). The rate limiter bounds
 * requests per client and the build pool bounds queued requests by count, but a submission body
 * may be 256 KiB, so neither bounds memory: this does. Each POST /v1/entries reserves its declared
 * body size (the body limit when it declares none) before its body is read, and gives it back
 * once it is answered and its handler has let go of it; a request that does not fit is turned
 * away at once with 503 and Retry-After, before it costs any memory.
 */
export class ByteBudget {
  private inUse = 0;

  constructor(readonly limit: number) {}

  /** Bytes reserved right now. */
  get used(): number {
    return this.inUse;
  }

  /** Reserves `bytes` if they fit; false (nothing reserved) if not. */
  take(bytes: number): boolean {
    if (this.inUse + bytes > this.limit) return false;
    this.inUse += bytes;
    return true;
  }

  release(bytes: number): void {
    this.inUse = Math.max(0, this.inUse - bytes);
  }
}
