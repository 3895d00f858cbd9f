import { distinctRows, firstNonFinite, gatherTableRows, ProtocolError, readFloats, readUint32s, wordBytes, type ChunkResult, type ParamLayout } from '@adamant/core';
import type { ChunkPart, SparseTable } from './GradientReducer.js';

// What goes into and comes out of step messages, beyond the plain fields.

/** "dense_1/kernel[5]": the weight and element a flat parameter index falls in. */
export function weightNameAt(layout: ParamLayout, index: number): string {
  const entry = layout.entries.find((e) => index >= e.offset && index < e.offset + e.size);
  return entry ? `${entry.name}[${index - entry.offset}]` : `parameter ${index}`;
}

/**
 * Decodes a chunk result's gradient: the dense part and, when the model starts with an
 * embedding, the rows it touched. Checks lengths and that row ids are ascending and in range.
 */
export function decodeChunkPart(message: ChunkResult, layout: ParamLayout, table: SparseTable | undefined, peer: string): ChunkPart {
  const what = `chunk ${message.index}`;
  const tableSize = table ? table.rows * table.dim : 0;
  const dense = readFloats(message.grads, layout.size - tableSize, `${what} gradient`, peer);
  if (!table) {
    if (message.sparseRows || message.sparseValues) throw new ProtocolError(`${peer}: ${what} has embedding rows, but the model has no embedding`);
    return { dense };
  }
  if (!message.sparseRows || !message.sparseValues) throw new ProtocolError(`${peer}: ${what} lacks the embedding rows`);
  const rows = readUint32s(message.sparseRows, `${what} embedding rows`, peer);
  for (let k = 0; k < rows.length; k++) {
    if (rows[k]! >= table.rows || (k > 0 && rows[k]! <= rows[k - 1]!)) {
      throw new ProtocolError(`${peer}: ${what} embedding rows must be ascending ids below ${table.rows}; found ${rows[k]} at ${k}`);
    }
  }
  const values = readFloats(message.sparseValues, rows.length * table.dim, `${what} embedding values`, peer);
  return { dense, sparse: { rows, values } };
}

/** Describes the first NaN or infinite gradient value of a chunk ("gradient of lstm_2/kernel[7] is NaN"), if any. */
export function describeNonFinite(part: ChunkPart, layout: ParamLayout, table: SparseTable | undefined): string | undefined {
  const tableSize = table ? table.rows * table.dim : 0;
  const bad = firstNonFinite(part.dense);
  if (bad >= 0) return `gradient of ${weightNameAt(layout, tableSize + bad)} is ${part.dense[bad]}`;
  if (!part.sparse || !table) return undefined;
  const badRow = firstNonFinite(part.sparse.values);
  if (badRow < 0) return undefined;
  const row = part.sparse.rows[Math.floor(badRow / table.dim)]!;
  return `gradient of ${weightNameAt(layout, row * table.dim + (badRow % table.dim))} is ${part.sparse.values[badRow]}`;
}

/**
 * The embedding rows a step's chunks read (the distinct token ids of their inputs), with their
 * current values: with an embedding, a worker gets only these rows of the table.
 */
export function tableRowsFor(inputs: readonly Float32Array[], table: SparseTable, params: Float32Array): { tableRows: Uint8Array<ArrayBuffer>; tableValues: Uint8Array<ArrayBuffer> } {
  const rows = distinctRows(inputs, table.rows);
  return { tableRows: wordBytes(rows), tableValues: wordBytes(gatherTableRows(params, rows, table.dim)) };
}
