import {
  createGradientClipping,
  createOptimizer,
  decodeChunkGradient,
  describeNonFinite,
  firstNonFinite,
  floatBytes,
  NumericError,
  ShapeError,
  stepTableRows,
  type ChunkGradientPart,
  type ChunkResult,
  type EmbeddingTable,
  type GradientClipping,
  type Optimizer,
  type OptimizerSpec,
  type OptimizerState,
  type ParamLayout,
} from '@adamant/core';
import { AdamOverflowBound } from './AdamOverflowBound.js';
import { GradientReducer } from './GradientReducer.js';
import { type NextStep, SplitUpdate } from './SplitUpdate.js';

export type { NextStep } from './SplitUpdate.js';

/** Table rows per slice of a deferred update: 2,048 rows of 64 take Adam about a millisecond. */
const SLICE_PARAMS = 131_072;

/** Everything a parameter server's result depends on, copied: what a checkpoint stores. */
export interface ParameterServerState {
  weights: Float32Array;
  optimizer: OptimizerState;
}

/**
 * The flat weights, the optimizer and the gradient reducer of one job. A step round feeds it
 * chunk gradients (in any order; the reducer sums them in chunk order), then `update()` clips the
 * batch mean if the optimizer block asks for it and applies the optimizer, and never keeps a
 * non-finite weight or moment. `snapshot()` and `restore()` carry its whole state (a learning-rate
 * schedule is a function of the optimizer's step count), so a restored server continues bitwise
 * as the original would have.
 *
 * Told the next step (`update(next)`), a model with an embedding table gets its update in two
 * parts (`SplitUpdate`): first what the next step's messages carry, then, while the workers
 * compute, the other table rows (`updateSlice()`, or at once in `finishUpdate()`). Every read of
 * the weights or the optimizer (`params`, `step`, `snapshot()`, the next `update()`, ...) finishes
 * the update first, so nothing sees it half done.
 */
export class ParameterServer {
  private readonly weights: Float32Array;
  private readonly optimizer: Optimizer;
  private readonly reducer: GradientReducer;
  private readonly clipping: GradientClipping | undefined;
  /** Proves most updates finite in advance, so only the others pay for a copy and a check. */
  private readonly bound: AdamOverflowBound;
  private readonly split: SplitUpdate | undefined;
  /** The memory of the table values `tableRowsFor` returns, reused from message to message. */
  private tableValues = new Float32Array(0);
  /** Milliseconds the last `update()` took: the serial part, when it was split. */
  updateMs = 0;

  constructor(
    readonly layout: ParamLayout,
    readonly table: EmbeddingTable | undefined,
    private readonly spec: OptimizerSpec,
    initial: Float32Array,
  ) {
    if (initial.length !== layout.size) throw new ShapeError(`initial weights have ${initial.length} values, the model has ${layout.size}`);
    this.weights = Float32Array.from(initial);
    this.optimizer = createOptimizer(spec, layout.size, layout.entries);
    this.clipping = createGradientClipping(spec, layout.entries);
    this.reducer = new GradientReducer(layout.size, table);
    this.bound = new AdamOverflowBound(spec);
    this.bound.measure(this.weights, this.optimizer.state());
    this.split = table ? new SplitUpdate(table, layout.size) : undefined;
  }

  /** The flat weights, with any update finished. */
  get params(): Float32Array {
    this.finishUpdate();
    return this.weights;
  }

  /** Where the dense part of the vector starts: right after the embedding table, if any. */
  get denseOffset(): number {
    return this.reducer.denseOffset;
  }

  /** Completed optimizer steps. */
  get step(): number {
    this.finishUpdate();
    return this.optimizer.step;
  }

  /** The learning rate the next `update()` applies (a schedule's value at `step`). */
  learningRate(): number {
    this.finishUpdate();
    return this.optimizer.learningRate();
  }

  /** Replaces the weights (e.g. from `--init`); checked for size and finiteness. */
  setWeights(weights: Float32Array, source: string): void {
    this.finishUpdate();
    if (weights.length !== this.layout.size) throw new ShapeError(`${source}: has ${weights.length} parameters, the model has ${this.layout.size}`);
    const bad = firstNonFinite(weights);
    if (bad >= 0) throw new NumericError(`${source}: weight ${this.layout.nameAt(bad)} is ${weights[bad]}`);
    this.weights.set(weights);
    this.bound.measure(this.weights, this.optimizer.state());
  }

  /** The dense weights as wire bytes (a view: valid until the next `update`). A split update does them first. */
  denseWeightBytes(): Uint8Array<ArrayBuffer> {
    return floatBytes(this.weights.subarray(this.denseOffset));
  }

  /**
   * The embedding rows some chunks' inputs read, with their current values; undefined without an
   * embedding. The next step's rows are ready after a split update's first part; any other row
   * finishes the update first. The values are a view of memory this server reuses: valid until the
   * next call (a step message is encoded before the next one is built).
   */
  tableRowsFor(inputs: readonly Float32Array[]): { tableRows: Uint8Array<ArrayBuffer>; tableValues: Uint8Array<ArrayBuffer> } | undefined {
    if (!this.table) return undefined;
    if (!this.split!.covers(inputs)) this.finishUpdate();
    return stepTableRows(inputs, this.table, this.weights, (length) => {
      if (this.tableValues.length < length) this.tableValues = new Float32Array(length);
      return this.tableValues;
    });
  }

  /** Starts summing a step of `chunkCount` chunks covering `batchSize` samples. */
  beginStep(chunkCount: number, batchSize: number): void {
    this.reducer.begin(chunkCount, batchSize);
  }

  /** Decodes and checks a chunk result's gradient; throws ProtocolError naming `peer`. */
  decode(message: ChunkResult, peer: string): ChunkGradientPart {
    return decodeChunkGradient(message, this.layout, this.table, peer);
  }

  /** Names the first NaN or infinite value of a decoded gradient, if any. */
  nonFinite(part: ChunkGradientPart): string | undefined {
    return describeNonFinite(part, this.layout, this.table);
  }

  /** Whether chunk `index` of the current step is already in. */
  has(index: number): boolean {
    return this.reducer.has(index);
  }

  add(index: number, part: ChunkGradientPart): void {
    this.reducer.add(index, part);
  }

  /** Whether every chunk of the current step is in. */
  get complete(): boolean {
    return this.reducer.complete;
  }

  /**
   * Clips the batch-mean gradient (`clipnorm`, `globalClipnorm` or `clipvalue`; Keras too clips
   * before the update) and applies the optimizer to it: over every parameter (what single-process
   * training does), or, with Adam's `lazyEmbedding`, over the dense part and only the embedding
   * rows this step touched. Throws NumericError, with the weights and the optimizer state as they
   * were, when the mean gradient is not finite (the chunks' float32 sum overflowed) or the update
   * would make a weight or a moment non-finite (a learning rate far too high, a gradient near
   * float32's range).
   *
   * The guard costs one pass over the mean gradient (two with clipping; with an embedding, over
   * the dense part and the touched rows, the others being zero): its largest magnitude lets
   * `AdamOverflowBound` prove the update finite in advance. Only an update it cannot prove
   * takes the careful path (copy, update, check, restore if needed), whole.
   *
   * With `next`, the step the server's next messages are for, and an embedding table, the update
   * proven finite is split: this call updates the dense weights and the rows `next` reads, and the
   * rest waits for `updateSlice()` or `finishUpdate()` (see the class comment).
   */
  update(next?: NextStep): void {
    // A deferred part not finished in the background is serial time too.
    const started = performance.now();
    this.finishUpdate();
    try {
      this.updateFrom(this.reducer.mean(), next);
    } finally {
      this.updateMs = performance.now() - started;
    }
  }

  /** Updates the next slice of a split update's deferred rows; returns whether some are left. */
  updateSlice(): boolean {
    const split = this.split;
    return split?.slice(Math.max(1, Math.floor(SLICE_PARAMS / split.table.dim))) === true;
  }

  /**
   * Finishes a split update a slice per turn of the event loop (setImmediate), so the step
   * messages just sent drain and chunk results are taken between slices.
   */
  finishUpdateInSlices(): void {
    if (!this.split?.pending) return;
    const slice = () => {
      if (this.updateSlice()) setImmediate(slice);
    };
    setImmediate(slice);
  }

  /** Finishes a split update (its deferred rows and the step's end); does nothing when none is pending. */
  finishUpdate(): void {
    this.split?.finish();
  }

  /** Whether a split update's deferred part is still to run. */
  get updatePending(): boolean {
    return this.split?.pending === true;
  }

  /** Milliseconds spent so far on the deferred part of the last update (0 when it was not split). */
  get deferredMs(): number {
    return this.split?.deferredMs ?? 0;
  }

  private updateFrom(mean: Float32Array, next: NextStep | undefined): void {
    if (this.split) this.split.deferredMs = 0;
    let gradMax = this.reducer.maxAbsOfMean();
    if (!(gradMax < Number.POSITIVE_INFINITY)) {
      const bad = firstNonFinite(mean);
      throw new NumericError(`the batch-mean gradient of ${this.layout.nameAt(bad)} is ${mean[bad]} (the chunks' sum overflows float32); the weights were not updated`);
    }
    if (this.clipping) {
      this.clipping.clip(mean);
      gradMax = this.reducer.maxAbsOfMean();
    }
    if (!this.bound.admit(gradMax, this.optimizer.step)) this.updateCarefully(mean);
    else if (this.split && next) {
      const lazy = this.spec.type === 'adam' && this.spec.lazyEmbedding;
      // The next step's gradients go to the reducer's other buffer while this mean is still read.
      this.split.begin(this.optimizer, this.weights, this.reducer.handOverMean(), next, lazy ? this.reducer.touchedRows : undefined);
    } else this.applyOptimizer(mean);
  }

  /** The update with a copy of the state kept, which comes back if anything went non-finite. */
  private updateCarefully(mean: Float32Array): void {
    const before = this.snapshot();
    this.applyOptimizer(mean);
    const after = this.optimizer.state();
    const problem = this.nonFiniteState(after);
    if (problem) {
      this.weights.set(before.weights);
      this.optimizer.restore(before.optimizer);
      throw new NumericError(`the update would make ${problem}; the weights and the optimizer state were kept as they were`);
    }
    this.bound.measure(this.weights, after);
  }

  /** Names the first non-finite weight, or else optimizer slot value, of a state. */
  private nonFiniteState(state: OptimizerState): string | undefined {
    const bad = firstNonFinite(this.weights);
    if (bad >= 0) return `weight ${this.layout.nameAt(bad)} ${this.weights[bad]}`;
    for (const [slot, values] of Object.entries(state.slots)) {
      const badSlot = firstNonFinite(values);
      if (badSlot >= 0) return `the ${this.optimizer.name} ${slot} of ${this.layout.nameAt(badSlot)} ${values[badSlot]}`;
    }
    return undefined;
  }

  private applyOptimizer(mean: Float32Array): void {
    const table = this.table;
    if (!table || !(this.spec.type === 'adam' && this.spec.lazyEmbedding)) {
      this.optimizer.apply(this.weights, mean);
      return;
    }
    this.optimizer.applyRange(this.weights, mean, this.denseOffset, this.layout.size);
    for (const row of this.reducer.touchedRows) this.optimizer.applyRange(this.weights, mean, row * table.dim, (row + 1) * table.dim);
    this.optimizer.finishStep();
  }

  snapshot(): ParameterServerState {
    this.finishUpdate();
    return { weights: this.weights.slice(), optimizer: this.optimizer.state() };
  }

  restore(state: ParameterServerState): void {
    this.setWeights(state.weights, 'checkpoint');
    this.optimizer.restore(state.optimizer);
    this.bound.measure(this.weights, state.optimizer);
  }
}
