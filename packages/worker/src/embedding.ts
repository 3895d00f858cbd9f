import { distinctRows } from '@adamant/core';
import type { SparseRows } from './GradientPath.js';

/**
 * The fused LSTM path's embedding, in typed-array loops: the lookup of a chunk's tokens and the
 * scatter-add of their gradient into the touched rows. Token ids come sample-major [B, T] (as
 * floats, already checked by checkTokenIds); embedded rows go time-major, row t*B + b.
 */

/** Looks up token ids into a time-major [T*B, dim] input, written into `out`. */
export function lookupTokens(ids: Float32Array, table: Float32Array, dim: number, B: number, T: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = ids[b * T + t]!;
      out.set(table.subarray(id * dim, id * dim + dim), (t * B + b) * dim);
    }
  }
  return out;
}

/** Scatter-adds d(loss)/d(embedded input), time-major [T*B, dim], into the rows of the tokens that produced it. */
export function scatterTokenGradients(ids: Float32Array, dInput: Float32Array, vocabulary: number, dim: number, B: number, T: number): SparseRows {
  const rows = distinctRows([ids], vocabulary);
  const slot = new Int32Array(vocabulary);
  rows.forEach((id, k) => {
    slot[id] = k;
  });
  const values = new Float32Array(rows.length * dim);
  // Fixed order (sample, then position): the sums are bitwise reproducible.
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = slot[ids[b * T + t]!]! * dim;
      const from = (t * B + b) * dim;
      for (let e = 0; e < dim; e++) values[at + e] = values[at + e]! + dInput[from + e]!;
    }
  }
  return { rows, values };
}
