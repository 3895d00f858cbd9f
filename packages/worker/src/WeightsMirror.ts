import { embeddingTable, ProtocolError, readFloats, readUint32s, type EmbeddingTable, type StepMessage, type WorkerJob } from '@adamant/core';

/**
 * The worker's copy of the parameter vector. A step brings the dense weights whole, but only
 * the embedding rows its chunks read; the other rows may be stale here, which is harmless
 * because a chunk neither reads them nor gets a gradient for them.
 */
export class WeightsMirror {
  readonly flat: Float32Array;
  private readonly table: EmbeddingTable | undefined;

  constructor(job: WorkerJob) {
    this.flat = new Float32Array(job.paramCount);
    this.table = embeddingTable(job.layers);
  }

  /** Takes a step's weights into the mirror and returns the full vector. */
  update(message: StepMessage, peer: string): Float32Array {
    const tableSize = this.table ? this.table.rows * this.table.dim : 0;
    this.flat.set(readFloats(message.weights, this.flat.length - tableSize, 'weights', peer), tableSize);
    if (!this.table) {
      if (message.tableRows || message.tableValues) throw new ProtocolError(`${peer}: sent embedding rows, but the model has no embedding`);
      return this.flat;
    }
    if (!message.tableRows || !message.tableValues) throw new ProtocolError(`${peer}: sent a step without the embedding rows`);
    const { rows: vocabulary, dim } = this.table;
    const rows = readUint32s(message.tableRows, 'embedding rows', peer);
    const values = readFloats(message.tableValues, rows.length * dim, 'embedding values', peer);
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k]!;
      if (row >= vocabulary) throw new ProtocolError(`${peer}: embedding row ${row} is outside 0..${vocabulary - 1}`);
      this.flat.set(values.subarray(k * dim, (k + 1) * dim), row * dim);
    }
    return this.flat;
  }
}
