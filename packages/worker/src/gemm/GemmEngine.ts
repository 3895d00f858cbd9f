import { type GemmEngineName, ShapeError } from '@adamant/core';

/**
 * The one matrix product every fused path uses, behind an engine that may be native. Matrices are
 * row-major Float32Arrays. An engine is deterministic: the same inputs give the same bits on every
 * call (a single thread, a fixed blocking), which is what keeps results bitwise equal across
 * worker counts for a given engine. Different engines may differ in the last bits.
 */

// The names live in core's protocol: the job and the ready message carry them.
export { GEMM_CHOICES, GEMM_ENGINE_NAMES, type GemmChoice, type GemmEngineName } from '@adamant/core';

export interface GemmEngine {
  readonly name: GemmEngineName;
  /**
   * What else decides the engine's bits, shown beside its name in a worker's identity: for
   * OpenBLAS its version and the CPU kernel it picked (two kernels may round differently);
   * empty for wasm.
   */
  readonly build: string;
  /**
   * out [M, N] = op(a) op(b), where op(a) is [M, K] and op(b) is [K, N]. With `transA`, `a` is
   * stored as [K, M] (its transpose); with `transB`, `b` is stored as [N, K]. Reads the first
   * M*K and K*N values of `a` and `b`; `out` is overwritten (its first M*N values), never
   * accumulated into, and may not alias `a` or `b`.
   */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * Several products with one right-hand b [K, N]: each out [M, N] = op(a) b, as `gemm` computes
   * it (a weight's gradients X^T dZ and H_prev^T dZ). The wasm engine uploads b once for all of
   * them, and tfjs prepares it once.
   */
  gemmShared(transA: boolean, N: number, K: number, b: Float32Array, products: readonly SharedProduct[]): void;
  /**
   * A [rows, cols] matrix kept for many products as their right-hand side (a layer's weights,
   * between two setWeights), in the engine's own form: on the tfjs backend for wasm, so that each
   * timestep's product does not upload the weights again.
   */
  constantMatrix(rows: number, cols: number): ConstantMatrix;
}

/** One product of GemmEngine.gemmShared: op(a) is [M, K]. */
export interface SharedProduct {
  M: number;
  a: Float32Array;
  out: Float32Array;
}

/** A right-hand matrix an engine keeps (see GemmEngine.constantMatrix). */
export interface ConstantMatrix {
  readonly rows: number;
  readonly cols: number;
  /** Copies in new values: the first rows*cols of `values`, row-major. */
  set(values: Float32Array): void;
  /**
   * out [M, cols] = a [M, rows] times this matrix; with `transposed`, out [M, rows] = a [M, cols]
   * times its transpose. Overwrites the first rows of `out` and returns it.
   */
  multiply(a: Float32Array, M: number, transposed: boolean, out: Float32Array): Float32Array;
  /** Frees what the engine holds for it (backend memory). */
  dispose(): void;
}

/** Throws unless the operands of a product hold enough values: a native engine would read past their end. */
export function checkOperands(M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  if (a.length < M * K || b.length < K * N || out.length < M * N) {
    throw new ShapeError(`gemm [${M}x${K}] x [${K}x${N}]: operands of ${a.length}, ${b.length} and ${out.length} values are too short`);
  }
}
