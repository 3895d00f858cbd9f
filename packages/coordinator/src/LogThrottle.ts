/**
 * Lets a log line through at most once per key (a remote address, a kind of event) per window,
 * and counts the ones it held back, so that a peer knocking thousands of times a second costs one
 * line a minute, and the line says how many knocks it stands for. Its memory is bounded: past
 * `maxKeys` keys that are still in their window, new keys share one overflow key.
 */
export class LogThrottle {
  private readonly entries = new Map<string, { since: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxKeys = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Whether to log this event of `key` now: `{ suppressed }` (how many were held back since the
   * last one that got through) if so, undefined if it falls in the current window.
   */
  admit(key: string): { suppressed: number } | undefined {
    const now = this.now();
    if (!this.entries.has(key) && this.entries.size >= this.maxKeys) {
      this.forgetExpired(now);
      if (this.entries.size >= this.maxKeys) key = '(other addresses)';
    }
    const entry = this.entries.get(key);
    if (entry && now - entry.since < this.windowMs) {
      entry.suppressed++;
      return undefined;
    }
    this.entries.set(key, { since: now, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.entries) if (now - entry.since >= this.windowMs) this.entries.delete(key);
  }
}
