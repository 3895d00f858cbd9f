import { checkForwardOnlyResult, chunkSizeOf, meansOf, type BatchPlan, type ChunkGradientPart, type ChunkResult, type Dataset, type JobConfig } from '@adamant/core';
import type { EpochReport } from './reports.js';
import type { GradientSink } from './stepRoundOptions.js';

/**
 * Rows of a validation chunk, in training chunks. A forward pass costs about a third of a
 * training chunk's forward and backward, so a validation chunk takes about as long as a training
 * one: the chunk times that set the straggler threshold and the default deadline still fit it,
 * and a validation set still splits into enough chunks to keep several workers busy.
 */
export const VALIDATION_CHUNK_FACTOR = 4;

/**
 * Validation after each epoch, as a forward-only round on the workers: the held-out rows in their
 * order, cut into chunks of `VALIDATION_CHUNK_FACTOR` x chunkSize rows (the config's alone, never
 * the workers'), and the figures from the round's per-chunk sums, added in chunk order. So the
 * validation loss and metrics are bitwise the same for any number of workers.
 */
export class Validation {
  readonly chunkRows: number;
  private readonly chunks: BatchPlan['chunks'];

  constructor(
    readonly data: Dataset,
    private readonly config: Pick<JobConfig, 'batchSize' | 'chunkSize' | 'metrics'>,
  ) {
    this.chunkRows = VALIDATION_CHUNK_FACTOR * chunkSizeOf(config);
    const order = Uint32Array.from({ length: data.rows }, (_, i) => i);
    this.chunks = [];
    for (let start = 0, index = 0; start < data.rows; start += this.chunkRows, index++) {
      this.chunks.push({ index, rows: order.subarray(start, Math.min(start + this.chunkRows, data.rows)) });
    }
  }

  /** The chunks of the validation round after epoch `epoch` (0-based): every validation row once, in order. */
  plan(epoch: number): BatchPlan {
    return { epoch, batch: 0, size: this.data.rows, chunks: this.chunks };
  }

  /** The validation loss and metrics from a finished round's per-chunk sums, each added in chunk order. */
  figures(round: { readonly lossSums: Float64Array; readonly metricSums: readonly Float64Array[] }): Pick<EpochReport, 'valLoss' | 'valMetrics'> {
    let lossSum = 0;
    for (const v of round.lossSums) lossSum += v;
    const metricSums = round.metricSums.map((sums) => {
      let total = 0;
      for (const v of sums) total += v;
      return total;
    });
    const means = meansOf({ samples: this.data.rows, lossSum, metricSums }, this.config.metrics);
    return { valLoss: means.loss, valMetrics: means.metrics };
  }
}

/** What a forward-only result stands for in a round: no gradient. */
const NO_GRADIENT: ChunkGradientPart = { dense: new Float32Array(0) };

/**
 * The sink of a forward-only round: there is no gradient to sum, only which chunks are in (the
 * round keeps their loss and metric statistics). Its decode is the check that a forward-only
 * result carries no gradient, as the parameter server's is that a training result carries one.
 */
export class ForwardOnlySink implements GradientSink {
  private received = new Uint8Array(0);
  private count = 0;

  beginStep(chunkCount: number): void {
    this.received = new Uint8Array(chunkCount);
    this.count = 0;
  }

  decode(message: ChunkResult, peer: string): ChunkGradientPart {
    checkForwardOnlyResult(message, peer);
    return NO_GRADIENT;
  }

  /** Nothing to check beyond the loss and the metric statistics, which the round checks itself. */
  nonFinite(): undefined {
    return undefined;
  }

  has(index: number): boolean {
    return this.received[index] === 1;
  }

  add(index: number): void {
    if (this.received[index] === 1) throw new RangeError(`forward-only chunk ${index} added twice`);
    this.received[index] = 1;
    this.count++;
  }

  get complete(): boolean {
    return this.count === this.received.length;
  }
}
