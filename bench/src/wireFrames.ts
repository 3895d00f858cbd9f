import { distinctRows, type EmbeddingTable, encodeChunkResult, type MessageCodec, readFloats, type StepMessage } from '@adamant/core';

/**
 * The chunk result frames a worker sends for a step (one per chunk, encoded with our codec): the
 * dense gradient `dense` and the table rows the chunk's tokens read. Both ends of the wire
 * benchmark use it, the peer to answer and the bench to know how many bytes come back.
 */
export function chunkResultFrames(step: StepMessage, table: EmbeddingTable, dense: Float32Array, codec: MessageCodec): Uint8Array[] {
  return step.chunks.map((chunk) => {
    const rows = distinctRows([readFloats(chunk.x, undefined, 'x', 'bench')], table.rows);
    const values = new Float32Array(rows.length * table.dim).fill(0.25);
    return codec.encode(encodeChunkResult(step.step, chunk.index, chunk.samples, { dense, sparse: { rows, values }, lossSum: 1, metricSums: [1] }));
  });
}

/** A stand-in dense gradient of the right length (its values do not change the bytes moved). */
export const denseGradient = (size: number): Float32Array => new Float32Array(size).fill(-0.125);
