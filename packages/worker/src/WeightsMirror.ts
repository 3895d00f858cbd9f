import { decodeStepWeights, embeddingTable, ShapeError, type EmbeddingTable, type StepMessage, type WorkerJob } from '@adamant/core';

/**
 * The worker's copy of the parameter vector. A step brings the dense weights whole, but only
 * the embedding rows its chunks read; the other rows may be stale here, which is harmless
 * because a chunk neither reads them nor gets a gradient for them.
 */
export class WeightsMirror {
  readonly flat: Float32Array;
  private readonly table: EmbeddingTable | undefined;

  /** `flat`: where the vector lives, paramCount floats (the compute thread shares it); by default a new array. */
  constructor(job: WorkerJob, flat: Float32Array = new Float32Array(job.paramCount)) {
    if (flat.length !== job.paramCount) throw new ShapeError(`the weights mirror needs ${job.paramCount} floats, got ${flat.length}`);
    this.flat = flat;
    this.table = embeddingTable(job.layers);
  }

  /** Takes a step's weights into the mirror (checked before anything is written) and returns the full vector. */
  update(message: StepMessage, peer: string): Float32Array {
    return decodeStepWeights(message, this.flat, this.table, peer);
  }
}
