import type { BatchPlan, Dataset, EmbeddingTable, Optimizer } from '@adamant/core';

/** The step the parameter server's next `step` messages are for: its batch, over the training rows. */
export interface NextStep {
  plan: BatchPlan;
  rows: Dataset;
}

/** A table row's mark: the next step's chunks read it. */
const READ_NEXT = 1;
/** A table row's mark: this step's gradient touched it (what a lazy update updates). */
const TOUCHED = 2;

/**
 * One optimizer step over a model with an embedding table, in two parts. `begin` updates the dense
 * weights and the table rows the next step's chunks read, which is all that step's `step` messages
 * carry, so they can go out at once; the other rows follow in `slice`s while the workers compute,
 * or all at once in `finish`, which every read of the weights calls first. The optimizers are
 * element-wise, so updating each parameter once, in any order, gives the bits of one whole step;
 * the step ends (`finishStep`: the step count, Adam's running β powers, the schedule's rate) only
 * after the last row, so both parts use the same step's constants. Gradient clipping and the
 * overflow proof take the whole gradient before `begin`.
 *
 * With Adam's `lazyEmbedding` only the rows the step touched are updated, in the same two parts.
 * Each part goes to the optimizer as one `applyRanges` call over runs of adjacent rows; nothing
 * is allocated after construction.
 */
export class SplitUpdate {
  /** One byte per table row: READ_NEXT and TOUCHED bits. */
  private readonly marks: Uint8Array;
  /** [from, to) parameter bounds of the runs of rows one call updates: at most one run per two rows, and the dense part. */
  private readonly bounds: Uint32Array;
  private optimizer: Optimizer | undefined;
  private params: Float32Array | undefined;
  private grads: Float32Array | undefined;
  /** The table rows of the deferred part: (mark & mask) === wanted. */
  private mask = 0;
  private wanted = 0;
  /** The first table row the deferred part has not looked at. */
  private cursor = 0;
  /** Milliseconds spent on the deferred part of the current (or last) step. */
  deferredMs = 0;

  constructor(
    readonly table: EmbeddingTable,
    readonly size: number,
  ) {
    this.marks = new Uint8Array(table.rows);
    this.bounds = new Uint32Array(2 * (Math.ceil(table.rows / 2) + 1));
  }

  /** Whether a step has begun and its deferred rows are not all updated yet. */
  get pending(): boolean {
    return this.optimizer !== undefined;
  }

  /**
   * Updates the dense part and the rows `next`'s chunks read (only those `touched`, when given: a
   * lazy update) with `grads`, which must stay as they are until the step is finished.
   */
  begin(optimizer: Optimizer, params: Float32Array, grads: Float32Array, next: NextStep, touched: readonly number[] | undefined): void {
    if (this.pending) throw new Error('SplitUpdate.begin: the previous step is not finished');
    const marks = this.marks;
    markRowsRead(next, marks);
    if (touched) for (const row of touched) marks[row]! |= TOUCHED;
    const lazy = touched !== undefined;
    this.mask = lazy ? READ_NEXT | TOUCHED : READ_NEXT;
    let pairs = this.collectRuns(0, this.table.rows, this.mask, lazy ? READ_NEXT | TOUCHED : READ_NEXT);
    this.bounds[2 * pairs] = this.table.rows * this.table.dim;
    this.bounds[2 * pairs + 1] = this.size;
    pairs++;
    optimizer.applyRanges(params, grads, this.bounds, pairs);
    this.wanted = lazy ? TOUCHED : 0;
    this.optimizer = optimizer;
    this.params = params;
    this.grads = grads;
    this.cursor = 0;
    this.deferredMs = 0;
  }

  /** Whether every embedding row `inputs` read is already updated (always, with no step pending). */
  covers(inputs: readonly Float32Array[]): boolean {
    if (!this.pending) return true;
    const marks = this.marks;
    for (const x of inputs) for (let k = 0; k < x.length; k++) if ((marks[x[k]!]! & READ_NEXT) === 0) return false;
    return true;
  }

  /** Updates the next `rows` table rows of the deferred part; returns whether some are left. */
  slice(rows: number): boolean {
    if (!this.pending) return false;
    this.advance(Math.min(this.table.rows, this.cursor + rows));
    return this.pending;
  }

  /** Updates every deferred row left and ends the step; does nothing when no step is pending. */
  finish(): void {
    if (this.pending) this.advance(this.table.rows);
  }

  private advance(to: number): void {
    const started = performance.now();
    this.optimizer!.applyRanges(this.params!, this.grads!, this.bounds, this.collectRuns(this.cursor, to, this.mask, this.wanted));
    this.cursor = to;
    if (to === this.table.rows) {
      this.optimizer!.finishStep();
      this.marks.fill(0);
      this.optimizer = undefined;
      this.params = undefined;
      this.grads = undefined;
    }
    this.deferredMs += performance.now() - started;
  }

  /** Writes into `bounds` the parameter ranges of the runs of table rows in [from, to) whose mark has `wanted` under `mask`; returns how many. */
  private collectRuns(from: number, to: number, mask: number, wanted: number): number {
    const { marks, bounds } = this;
    const { dim } = this.table;
    let pairs = 0;
    let row = from;
    while (row < to) {
      while (row < to && (marks[row]! & mask) !== wanted) row++;
      const start = row;
      while (row < to && (marks[row]! & mask) === wanted) row++;
      if (row > start) {
        bounds[2 * pairs] = start * dim;
        bounds[2 * pairs + 1] = row * dim;
        pairs++;
      }
    }
    return pairs;
  }
}

/** Marks READ_NEXT on the table rows `next`'s chunks read: every token id of their rows (what `stepTableRows` sends). */
function markRowsRead({ plan, rows }: NextStep, marks: Uint8Array): void {
  const { x, featureCount } = rows;
  for (const chunk of plan.chunks) {
    for (let i = 0; i < chunk.rows.length; i++) {
      const row = chunk.rows[i]!;
      const end = (row + 1) * featureCount;
      for (let k = row * featureCount; k < end; k++) marks[x[k]!]! |= READ_NEXT;
    }
  }
}
