/**
 * Failed authentications counted per address in fixed one-minute windows. An address
 * past its budget is refused before its key is even looked at, so guessing keys from one
 * address gets nowhere, and a valid key sent from it learns nothing either until the
 * window ends.
 */
export class AuthThrottle {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the address is past its budget in the current window. */
  throttled(address: string): boolean {
    const w = this.windows.get(address);
    return !!w && this.now() - w.start < this.windowMs && w.failures >= this.maxFailures;
  }

  /** Seconds until the address's window ends. */
  retryAfter(address: string): number {
    const w = this.windows.get(address);
    return w ? Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000)) : 0;
  }

  failed(address: string): void {
    const t = this.now();
    const w = this.windows.get(address);
    if (w && t - w.start < this.windowMs) w.failures++;
    else this.windows.set(address, { start: t, failures: 1 });
    // forget ended windows now and then, so that many addresses cannot grow the map for ever
    if (this.windows.size > 10_000) for (const [a, x] of this.windows) if (t - x.start >= this.windowMs) this.windows.delete(a);
  }
}
