import { distinctRows, firstNonFinite, gatherTableRows } from '../flat.js';
import { ProtocolError } from '../errors.js';
import type { EmbeddingTable } from '../model/buildModel.js';
import type { ParamLayout } from '../model/layout.js';
import { readFloats, readUint32s, wordBytes } from './bytes.js';
import type { ChunkResult, StepMessage } from './protocol.js';

/**
 * The binary payloads of step and chunk messages, both ends. When the model starts with an
 * embedding table (`table`), the dense part of the parameter vector (everything after the table)
 * travels whole and the table travels as rows: uint32 row ids, strictly ascending, and their
 * values, ids x table.dim float32s. Without a table, everything is dense.
 */

/** Some rows of an embedding table: ascending ids and their values, rows.length x dim. */
export interface SparseRows {
  rows: Uint32Array;
  values: Float32Array;
}

/** One chunk's gradient sums: the dense part, and the embedding rows the chunk touched. */
export interface ChunkGradientPart {
  /** Every parameter after the table (all parameters when there is no table). */
  dense: Float32Array;
  sparse?: SparseRows;
}

/** What a worker computed for one forward-only chunk: its loss sum and metric statistics. */
export interface ChunkEvaluation {
  lossSum: number;
  /** The metrics' additive statistics (metrics.ts), in the job's metric order. */
  metricSums: number[];
}

/** What a worker computed for one training chunk: the gradient too. */
export interface ChunkGradient extends ChunkGradientPart, ChunkEvaluation {}

const tableSizeOf = (table: EmbeddingTable | undefined): number => (table ? table.rows * table.dim : 0);

/**
 * Embedding row ids from wire bytes: uint32, strictly ascending, below `table.rows`. The one
 * check for both directions; `what` names the field and `peer` the sender in the ProtocolError.
 */
export function readTableRows(bytes: Uint8Array, table: EmbeddingTable, what: string, peer: string): Uint32Array {
  const rows = readUint32s(bytes, what, peer);
  for (let k = 0; k < rows.length; k++) {
    if (rows[k]! >= table.rows || (k > 0 && rows[k]! <= rows[k - 1]!)) {
      throw new ProtocolError(`${peer}: ${what} must be ascending ids below ${table.rows}; found ${rows[k]} at ${k}`);
    }
  }
  return rows;
}

// ---- worker -> coordinator: chunk results -------------------------------------------------

/**
 * The chunk result message for chunk `index` of step `step`: a training chunk's gradient (byte
 * views, no copies), or a forward-only chunk's statistics alone, marked `evaluate`.
 */
export function encodeChunkResult(step: number, index: number, samples: number, result: ChunkGradient | ChunkEvaluation): ChunkResult {
  const statistics = { type: 'chunk', step, index, samples, lossSum: result.lossSum, metricSums: result.metricSums } as const;
  if (!('dense' in result)) return { ...statistics, evaluate: true };
  return {
    ...statistics,
    grads: wordBytes(result.dense),
    ...(result.sparse ? { sparseRows: wordBytes(result.sparse.rows), sparseValues: wordBytes(result.sparse.values) } : {}),
  };
}

/**
 * Decodes a training chunk result's gradient: the dense part and, when the model starts with an
 * embedding, the rows it touched. Checks that there is one, its lengths, and that row ids are
 * ascending and in range.
 */
export function decodeChunkGradient(message: ChunkResult, layout: ParamLayout, table: EmbeddingTable | undefined, peer: string): ChunkGradientPart {
  const what = `chunk ${message.index}`;
  if (!message.grads) throw new ProtocolError(`${peer}: ${what} of step ${message.step} is a training chunk, but its result has no gradient`);
  const dense = readFloats(message.grads, layout.size - tableSizeOf(table), `${what} gradient`, peer);
  if (!table) {
    if (message.sparseRows || message.sparseValues) throw new ProtocolError(`${peer}: ${what} has embedding rows, but the model has no embedding`);
    return { dense };
  }
  if (!message.sparseRows || !message.sparseValues) throw new ProtocolError(`${peer}: ${what} lacks the embedding rows`);
  const rows = readTableRows(message.sparseRows, table, `${what} embedding rows`, peer);
  const values = readFloats(message.sparseValues, rows.length * table.dim, `${what} embedding values`, peer);
  return { dense, sparse: { rows, values } };
}

/** Checks that a forward-only chunk's result carries no gradient, which would mean the worker trained it (a ProtocolError naming `peer`). */
export function checkForwardOnlyResult(message: ChunkResult, peer: string): void {
  if (message.grads || message.sparseRows || message.sparseValues) {
    throw new ProtocolError(`${peer}: chunk ${message.index} of step ${message.step} is forward only (evaluate), but its result carries a gradient`);
  }
}

/** Describes the first NaN or infinite gradient value of a chunk ("gradient of lstm_2/kernel[7] is NaN"), if any. */
export function describeNonFinite(part: ChunkGradientPart, layout: ParamLayout, table: EmbeddingTable | undefined): string | undefined {
  const bad = firstNonFinite(part.dense);
  if (bad >= 0) return `gradient of ${layout.nameAt(tableSizeOf(table) + bad)} is ${part.dense[bad]}`;
  if (!part.sparse || !table) return undefined;
  const badRow = firstNonFinite(part.sparse.values);
  if (badRow < 0) return undefined;
  const row = part.sparse.rows[Math.floor(badRow / table.dim)]!;
  return `gradient of ${layout.nameAt(row * table.dim + (badRow % table.dim))} is ${part.sparse.values[badRow]}`;
}

// ---- coordinator -> worker: steps ---------------------------------------------------------

/**
 * The embedding rows a step's chunks read (the distinct token ids of their inputs), with their
 * current values from `params`: with an embedding, a worker gets only these rows of the table.
 * `valuesBuffer`, when given, lends the memory for the values (at least `length` floats), for a
 * caller that encodes the message before it builds the next one.
 */
export function stepTableRows(
  inputs: readonly Float32Array[],
  table: EmbeddingTable,
  params: Float32Array,
  valuesBuffer?: (length: number) => Float32Array,
): { tableRows: Uint8Array<ArrayBuffer>; tableValues: Uint8Array<ArrayBuffer> } {
  const rows = distinctRows(inputs, table.rows);
  const values = gatherTableRows(params, rows, table.dim, valuesBuffer?.(rows.length * table.dim));
  return { tableRows: wordBytes(rows), tableValues: wordBytes(values) };
}

/**
 * Takes a step's weights into `into`, the receiver's whole parameter vector, and returns it:
 * the dense weights after the table, and the rows sent into the table. Rows not sent keep their
 * old values (a chunk neither reads them nor gets a gradient for them). Everything is checked
 * before anything is written.
 */
export function decodeStepWeights(message: StepMessage, into: Float32Array, table: EmbeddingTable | undefined, peer: string): Float32Array {
  const tableSize = tableSizeOf(table);
  const dense = readFloats(message.weights, into.length - tableSize, 'weights', peer);
  if (!table) {
    if (message.tableRows || message.tableValues) throw new ProtocolError(`${peer}: sent embedding rows, but the model has no embedding`);
    into.set(dense);
    return into;
  }
  if (!message.tableRows || !message.tableValues) throw new ProtocolError(`${peer}: sent a step without the embedding rows`);
  const { dim } = table;
  const rows = readTableRows(message.tableRows, table, 'embedding rows', peer);
  const values = readFloats(message.tableValues, rows.length * dim, 'embedding values', peer);
  into.set(dense, tableSize);
  for (let k = 0; k < rows.length; k++) into.set(values.subarray(k * dim, (k + 1) * dim), rows[k]! * dim);
  return into;
}

/**
 * A chunk's sample weights as its step message carries them (`w`), or undefined when every one
 * is 1: the field is then left out, so a job without weights sends what it always sent.
 */
export function chunkWeightBytes(w: Float32Array | undefined): Uint8Array<ArrayBuffer> | undefined {
  if (!w) return undefined;
  for (let i = 0; i < w.length; i++) if (w[i] !== 1) return wordBytes(w);
  return undefined;
}

/** A chunk's sample weights from a step message: one float32 per sample, each finite and >= 0 (a ProtocolError naming `peer` otherwise). */
export function readChunkWeights(bytes: Uint8Array, samples: number, what: string, peer: string): Float32Array {
  const w = readFloats(bytes, samples, what, peer);
  for (let i = 0; i < w.length; i++) {
    if (!(w[i]! >= 0 && w[i]! < Number.POSITIVE_INFINITY)) throw new ProtocolError(`${peer}: ${what} must be finite and >= 0; sample ${i} weighs ${w[i]}`);
  }
  return w;
}
