/**
 * The one matrix product every fused path uses, behind an engine that may be native. Matrices are
 * row-major Float32Arrays. An engine is deterministic: the same inputs give the same bits on every
 * call (a single thread, a fixed blocking), which is what keeps results bitwise equal across
 * worker counts for a given engine. Different engines may differ in the last bits.
 */

/** Engines a worker can compute with, fastest first: the order `auto` tries them in. */
export const GEMM_ENGINE_NAMES = ['openblas', 'wasm'] as const;
export type GemmEngineName = (typeof GEMM_ENGINE_NAMES)[number];
/** What a command line or job may ask for. */
export type GemmChoice = GemmEngineName | 'auto';

export interface GemmEngine {
  readonly name: GemmEngineName;
  /**
   * out [M, N] = op(a) op(b), where op(a) is [M, K] and op(b) is [K, N]. With `transA`, `a` is
   * stored as [K, M] (its transpose); with `transB`, `b` is stored as [N, K]. `out` is
   * overwritten, never accumulated into, and may not alias `a` or `b`.
   */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
}
