/** One point of a series: its x (a step or an epoch) first, then one value per column; null where a value is missing. */
export type SeriesRow = (number | null)[];

/**
 * A series that spans a whole run in bounded memory: at most `capacity` rows. When it is full,
 * every other row is dropped and from then on only every `stride`-th offered row is kept (the
 * stride doubles each time), so a long run keeps its shape at a coarser step instead of losing
 * its beginning.
 */
export class BoundedSeries {
  private readonly kept: SeriesRow[] = [];
  private offered = 0;
  private stride = 1;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`a series holds at least 2 rows, got capacity ${capacity}`);
  }

  /** Offers a row; returns whether it was kept. */
  push(row: SeriesRow): boolean {
    const keep = this.offered % this.stride === 0;
    this.offered++;
    if (!keep) return false;
    if (this.kept.length >= this.capacity) this.halve();
    this.kept.push(row);
    return true;
  }

  /** The rows kept, oldest first. */
  get rows(): readonly SeriesRow[] {
    return this.kept;
  }

  /** Keeps one row in two (the first, third, …) and doubles the stride new rows are taken at. */
  private halve(): void {
    let to = 0;
    for (let from = 0; from < this.kept.length; from += 2) this.kept[to++] = this.kept[from]!;
    this.kept.length = to;
    this.stride *= 2;
  }
}
