import {
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
  type Optimizer,
  type OptimizerSpec,
  type OptimizerState,
  type ParamLayout,
} from '@adamant/core';
import { GradientReducer } from './GradientReducer.js';

/** Everything a parameter server's result depends on, copied: what a checkpoint stores. */
export interface ParameterServerState {
  weights: Float32Array;
  optimizer: OptimizerState;
}

/**
 * The flat weights, the optimizer and the gradient reducer of one job. A step round feeds it
 * chunk gradients (in any order; the reducer sums them in chunk order), then `update()` applies
 * the optimizer to the batch mean. `snapshot()` and `restore()` carry its whole state, so a
 * restored server continues bitwise as the original would have.
 */
export class ParameterServer {
  readonly params: Float32Array;
  readonly optimizer: Optimizer;
  private readonly reducer: GradientReducer;

  constructor(
    readonly layout: ParamLayout,
    readonly table: EmbeddingTable | undefined,
    private readonly spec: OptimizerSpec,
    initial: Float32Array,
  ) {
    if (initial.length !== layout.size) throw new ShapeError(`initial weights have ${initial.length} values, the model has ${layout.size}`);
    this.params = Float32Array.from(initial);
    this.optimizer = createOptimizer(spec, layout.size);
    this.reducer = new GradientReducer(layout.size, table);
  }

  /** Where the dense part of the vector starts: right after the embedding table, if any. */
  get denseOffset(): number {
    return this.reducer.denseOffset;
  }

  /** Completed optimizer steps. */
  get step(): number {
    return this.optimizer.step;
  }

  /** Replaces the weights (e.g. from `--init`); checked for size and finiteness. */
  setWeights(weights: Float32Array, source: string): void {
    if (weights.length !== this.layout.size) throw new ShapeError(`${source}: has ${weights.length} parameters, the model has ${this.layout.size}`);
    const bad = firstNonFinite(weights);
    if (bad >= 0) throw new NumericError(`${source}: weight ${this.layout.nameAt(bad)} is ${weights[bad]}`);
    this.params.set(weights);
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
   * Applies the optimizer to the batch-mean gradient: over every parameter (what single-process
   * training does), or, with Adam's `lazyEmbedding`, over the dense part and only the embedding
   * rows this step touched.
   */
  update(): void {
    const mean = this.reducer.mean();
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
  }
}
