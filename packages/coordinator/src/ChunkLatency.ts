/**
 * The recent times from handing a chunk out to taking its result, over the last `window` chunks:
 * what "slow" means for a straggler, measured rather than configured. The yardstick is a low
 * quantile, what a healthy worker takes: with one worker far slower than the rest, half the
 * samples are its own and a median would call its chunks normal.
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

  /** The `q` quantile (0..1) of the recent samples, or undefined before the first. */
  quantile(q: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }

  /**
   * How long a chunk may be out before an idle worker also computes it: `factor` times the lower
   * quartile, but at least `floorMs` (timer noise and tiny chunks must not double the work).
   */
  stragglerAfter(factor = 3, floorMs = 250): number {
    return Math.max(floorMs, factor * (this.quantile(0.25) ?? Number.POSITIVE_INFINITY));
  }

  /**
   * How long a worker may hold a chunk before it is dropped and the chunk goes elsewhere (the
   * default `--chunk-timeout`): `factor` times the median, but at least `floorMs`, so a busy host
   * or a pause is never mistaken for a peer that keeps chunks; `unmeasuredMs` before any chunk
   * came back, when the first chunks also pay for compiling the model.
   */
  deadline(factor = 10, floorMs = 30_000, unmeasuredMs = 600_000): number {
    const median = this.quantile(0.5);
    return median === undefined ? unmeasuredMs : Math.max(floorMs, factor * median);
  }
}
