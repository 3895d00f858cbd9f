import { distinctRows, gatherTableRows, ShapeError, type ChunkEvaluation, type ChunkGradient, type ResolvedBackend, type SparseRows } from '@adamant/core';
import type { GemmEngine } from './gemm/GemmEngine.js';

// A chunk's gradient (ChunkGradient, SparseRows) and statistics (ChunkEvaluation) are wire payloads: their types live in core.
export type { ChunkEvaluation, ChunkGradient, SparseRows };

/** One way of computing a chunk's gradient, or its statistics alone: tfjs autodiff, or the fused path (fused/FusedGradients.ts). */
export interface GradientPath {
  readonly backend: ResolvedBackend;
  /** The fused path's GEMM engine; autodiff has none. */
  readonly gemm?: GemmEngine;
  readonly paramCount: number;
  /** The path may keep views into `flat`: leave it unchanged until the next setWeights. */
  setWeights(flat: Float32Array): void;
  /**
   * x: samples x inputShape (token ids as floats for an embedding), y: one target per sample,
   * w: one weight per sample, or none when each weighs 1 (the loss sum and its gradient are then
   * of Σ w·loss; the metrics stay unweighted). The returned arrays may be reused by the next
   * call: encode or copy them first.
   */
  compute(x: Float32Array, y: Float32Array, samples: number, seed: number, w?: Float32Array): ChunkGradient;
  /**
   * The loss sum (weighted by w, if given) and metric statistics of a forward-only chunk
   * (validation): inference mode, so no dropout and no gradient. Depends only on the rows and the
   * weights, like `compute`.
   */
  evaluate(x: Float32Array, y: Float32Array, samples: number, w?: Float32Array): ChunkEvaluation;
  dispose(): void;
}

/**
 * Sums the embedding rows named by a chunk's token ids out of a dense table gradient.
 * Rows come out ascending, so the result is independent of token order.
 */
export function touchedRows(tokenIds: Float32Array, vocabulary: number, dim: number, tableGrad: Float32Array): SparseRows {
  const rows = distinctRows([tokenIds], vocabulary);
  return { rows, values: gatherTableRows(tableGrad, rows, dim) };
}

/** Checks that every token id is an integer row of the embedding table, naming the first that is not. */
export function checkTokenIds(ids: Float32Array, timesteps: number, vocabulary: number): void {
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    if (!(id >= 0 && id < vocabulary && Number.isInteger(id))) {
      throw new ShapeError(`sample ${Math.floor(k / timesteps)}, position ${k % timesteps}: token id ${id} is outside the embedding's 0..${vocabulary - 1}`);
    }
  }
}
