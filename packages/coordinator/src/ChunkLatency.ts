/**
 * The recent time from handing a chunk out to taking its result, as a running median over the
 * last `window` chunks: what "slow" means for a straggler, measured rather than configured.
 */
export class ChunkLatency {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly window = 64) {}

  record(ms: number): void {
    if (this.samples.length < this.window) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.window;
  }

  /** The median of the recent samples, or undefined before the first. */
  median(): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * How long a chunk may be out before an idle worker also computes it: `factor` times the
   * median, but at least `floorMs` (timer noise and tiny chunks must not double the work).
   */
  stragglerAfter(factor = 3, floorMs = 250): number {
    return Math.max(floorMs, factor * (this.median() ?? Number.POSITIVE_INFINITY));
  }
}
