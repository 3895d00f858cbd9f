import {
  createGradientClipping,
  createOptimizer,
  decodeChunkGradient,
  describeNonFinite,
  firstNonFinite,
  floatBytes,
  maxAbs,
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
 */
export class ParameterServer {
  readonly params: Float32Array;
  readonly optimizer: Optimizer;
  private readonly reducer: GradientReducer;
  private readonly clipping: GradientClipping | undefined;
  /** Proves most updates finite in advance, so only the others pay for a copy and a check. */
  private readonly bound: AdamOverflowBound;

  constructor(
    readonly layout: ParamLayout,
    readonly table: EmbeddingTable | undefined,
    private readonly spec: OptimizerSpec,
    initial: Float32Array,
  ) {
    if (initial.length !== layout.size) throw new ShapeError(`initial weights have ${initial.length} values, the model has ${layout.size}`);
    this.params = Float32Array.from(initial);
    this.optimizer = createOptimizer(spec, layout.size, layout.entries);
    this.clipping = createGradientClipping(spec, layout.entries);
    this.reducer = new GradientReducer(layout.size, table);
    this.bound = new AdamOverflowBound(spec);
    this.bound.measure(this.params, this.optimizer.state());
  }

  /** Where the dense part of the vector starts: right after the embedding table, if any. */
  get denseOffset(): number {
    return this.reducer.denseOffset;
  }

  /** Completed optimizer steps. */
  get step(): number {
    return this.optimizer.step;
  }

  /** The learning rate the next `update()` applies (a schedule's value at `step`). */
  learningRate(): number {
    return this.optimizer.learningRate();
  }

  /** Replaces the weights (e.g. from `--init`); checked for size and finiteness. */
  setWeights(weights: Float32Array, source: string): void {
    if (weights.length !== this.layout.size) throw new ShapeError(`${source}: has ${weights.length} parameters, the model has ${this.layout.size}`);
    const bad = firstNonFinite(weights);
    if (bad >= 0) throw new NumericError(`${source}: weight ${this.layout.nameAt(bad)} is ${weights[bad]}`);
    this.params.set(weights);
    this.bound.measure(this.params, this.optimizer.state());
  }

  /** The dense weights as wire bytes (a view: valid until the next `update`). */
  denseWeightBytes(): Uint8Array<ArrayBuffer> {
    return floatBytes(this.params.subarray(this.denseOffset));
  }

  /** The embedding rows some chunks' inputs read, with their current values; undefined without an embedding. */
  tableRowsFor(inputs: readonly Float32Array[]): { tableRows: Uint8Array<ArrayBuffer>; tableValues: Uint8Array<ArrayBuffer> } | undefined {
    return this.table ? stepTableRows(inputs, this.table, this.params) : undefined;
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
   * The guard costs one pass over the mean gradient (two with clipping): its largest magnitude
   * lets `AdamOverflowBound` prove the update finite in advance. Only an update it cannot prove
   * takes the careful path (copy, update, check, restore if needed).
   */
  update(): void {
    const mean = this.reducer.mean();
    let gradMax = maxAbs(mean);
    if (!(gradMax < Number.POSITIVE_INFINITY)) {
      const bad = firstNonFinite(mean);
      throw new NumericError(`the batch-mean gradient of ${this.layout.nameAt(bad)} is ${mean[bad]} (the chunks' sum overflows float32); the weights were not updated`);
    }
    if (this.clipping) {
      this.clipping.clip(mean);
      gradMax = maxAbs(mean);
    }
    if (this.bound.admit(gradMax, this.optimizer.step)) this.applyOptimizer(mean);
    else this.updateCarefully(mean);
  }

  /** The update with a copy of the state kept, which comes back if anything went non-finite. */
  private updateCarefully(mean: Float32Array): void {
    const before = this.snapshot();
    this.applyOptimizer(mean);
    const after = this.optimizer.state();
    const problem = this.nonFiniteState(after);
    if (problem) {
      this.params.set(before.weights);
      this.optimizer.restore(before.optimizer);
      throw new NumericError(`the update would make ${problem}; the weights and the optimizer state were kept as they were`);
    }
    this.bound.measure(this.params, after);
  }

  /** Names the first non-finite weight, or else optimizer slot value, of a state. */
  private nonFiniteState(state: OptimizerState): string | undefined {
    const bad = firstNonFinite(this.params);
    if (bad >= 0) return `weight ${this.layout.nameAt(bad)} ${this.params[bad]}`;
    for (const [slot, values] of Object.entries(state.slots)) {
      const badSlot = firstNonFinite(values);
      if (badSlot >= 0) return `the ${this.optimizer.name} ${slot} of ${this.layout.nameAt(badSlot)} ${values[badSlot]}`;
    }
    return undefined;
  }

  private applyOptimizer(mean: Float32Array): void {
    const table = this.table;
    if (!table || !(this.spec.type === 'adam' && this.spec.lazyEmbedding)) {
      this.optimizer.apply(this.params, mean);
      return;
    }
    this.optimizer.applyRange(this.params, mean, this.denseOffset, this.layout.size);
    for (const row of this.reducer.touchedRows) this.optimizer.applyRange(this.params, mean, row * table.dim, (row + 1) * table.dim);
    this.optimizer.finishStep();
  }

  snapshot(): ParameterServerState {
    return { weights: this.params.slice(), optimizer: this.optimizer.state() };
  }

  restore(state: ParameterServerState): void {
    this.setWeights(state.weights, 'checkpoint');
    this.optimizer.restore(state.optimizer);
    this.bound.measure(this.params, state.optimizer);
  }
}
