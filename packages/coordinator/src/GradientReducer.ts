import { addInto, divideInPlace, maxAbs, type EmbeddingTable } from '@adamant/core';

/** An embedding table at the start of the parameter vector, whose gradients arrive as rows. */
export type SparseTable = EmbeddingTable;

/** One chunk's contribution: the dense gradient part, and the embedding rows it touched. */
export interface ChunkPart {
  /** Every parameter after the table (all parameters when there is no table). */
  dense: Float32Array;
  sparse?: { rows: Uint32Array; values: Float32Array };
}

/**
 * Combines one step's chunk gradient sums into the batch-mean gradient, always as
 * `((c0 + c1) + c2) + ...` in chunk order, whatever order the chunks arrive in. Float addition
 * is not associative, so this fixed order is what makes the result independent of the number
 * of workers and of timing. Chunks that arrive early wait until every chunk before them is in;
 * the running sum lives in one reused buffer. Embedding rows are scatter-added into it, so the
 * mean is the exact dense gradient (untouched rows are zero, and stay so: averaging and `maxAbs`
 * visit only the dense part and the touched rows).
 */
export class GradientReducer {
  private sum: Float32Array;
  private denseSum: Float32Array;
  /** The buffer a handed-over mean lives in while the reducer sums into `sum`; made at the first hand-over. */
  private spare: Float32Array | undefined;
  private readonly waiting = new Map<number, ChunkPart>();
  private readonly rowTouched: Uint8Array;
  private readonly touched: number[] = [];
  private next = 0;
  private chunkCount = 0;
  private batchSize = 0;
  private averaged = false;

  constructor(
    readonly size: number,
    readonly table?: SparseTable,
  ) {
    this.sum = new Float32Array(size);
    this.denseSum = this.sum.subarray(this.denseOffset);
    this.rowTouched = new Uint8Array(table?.rows ?? 0);
  }

  /** Where the dense part starts: right after the embedding table, if any. */
  get denseOffset(): number {
    return this.table ? this.table.rows * this.table.dim : 0;
  }

  /** Starts a step of `chunkCount` chunks covering `batchSize` samples. */
  begin(chunkCount: number, batchSize: number): void {
    this.sum.fill(0);
    this.waiting.clear();
    for (const row of this.touched) this.rowTouched[row] = 0;
    this.touched.length = 0;
    this.next = 0;
    this.chunkCount = chunkCount;
    this.batchSize = batchSize;
    this.averaged = false;
  }

  /** Whether chunk `index` was already taken this step (a duplicate must not count twice). */
  has(index: number): boolean {
    return index < this.next || this.waiting.has(index);
  }

  /** Takes chunk `index`'s gradient sums. The arrays must stay untouched until the step completes. */
  add(index: number, part: ChunkPart): void {
    if (index < 0 || index >= this.chunkCount) throw new RangeError(`chunk ${index} is outside 0..${this.chunkCount - 1}`);
    if (this.has(index)) throw new RangeError(`chunk ${index} was already added`);
    if (part.dense.length !== this.denseSum.length) throw new RangeError(`chunk ${index} has ${part.dense.length} dense values, expected ${this.denseSum.length}`);
    if (part.sparse && !this.table) throw new RangeError(`chunk ${index} has embedding rows, but the model has no embedding`);
    if (part.sparse && part.sparse.values.length !== part.sparse.rows.length * this.table!.dim) {
      throw new RangeError(`chunk ${index} has ${part.sparse.values.length} embedding values for ${part.sparse.rows.length} rows of ${this.table!.dim}`);
    }
    this.waiting.set(index, part);
    for (let ready = this.waiting.get(this.next); ready; ready = this.waiting.get(this.next)) {
      addInto(this.denseSum, ready.dense);
      if (ready.sparse) this.scatter(ready.sparse.rows, ready.sparse.values);
      this.waiting.delete(this.next);
      this.next++;
    }
  }

  private scatter(rows: Uint32Array, values: Float32Array): void {
    const dim = this.table!.dim;
    const sum = this.sum;
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k]!;
      if (this.rowTouched[row] === 0) {
        this.rowTouched[row] = 1;
        this.touched.push(row);
      }
      const to = row * dim;
      const from = k * dim;
      for (let e = 0; e < dim; e++) sum[to + e] = sum[to + e]! + values[from + e]!;
    }
  }

  get complete(): boolean {
    return this.chunkCount > 0 && this.next === this.chunkCount;
  }

  /** Embedding rows touched by any chunk of this step, in first-touch order. */
  get touchedRows(): readonly number[] {
    return this.touched;
  }

  /** The batch-mean gradient (sum / batch size). Valid until the next `begin`. */
  mean(): Float32Array {
    if (!this.complete) throw new Error(`GradientReducer.mean: ${this.chunkCount - this.next} chunks missing`);
    if (!this.averaged) {
      const { sum, batchSize } = this;
      const dim = this.table?.dim ?? 0;
      divideInPlace(this.denseSum, batchSize);
      for (const row of this.touched) for (let i = row * dim, end = i + dim; i < end; i++) sum[i] = sum[i]! / batchSize;
    }
    this.averaged = true;
    return this.sum;
  }

  /** The largest magnitude of the mean gradient (NaN if it holds one), read from the dense part and the touched rows: the others are zero. */
  maxAbsOfMean(): number {
    const mean = this.mean();
    let max = maxAbs(this.denseSum);
    const dim = this.table?.dim ?? 0;
    for (const row of this.touched) for (let i = row * dim, end = i + dim; i < end; i++) max = Math.max(max, Math.abs(mean[i]!));
    return max;
  }

  /**
   * The batch-mean gradient, handed over: it stays as it is until the next hand-over, while the
   * reducer sums the following steps (from their `begin`) into its other buffer. The parameter
   * server finishes an update from it while the next step's chunks arrive.
   */
  handOverMean(): Float32Array {
    const mean = this.mean();
    this.spare ??= new Float32Array(this.size);
    this.sum = this.spare;
    this.denseSum = this.sum.subarray(this.denseOffset);
    this.spare = mean;
    this.chunkCount = 0;
    return mean;
  }
}
