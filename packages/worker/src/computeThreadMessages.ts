import type { ChunkEvaluation, ChunkGradient, ErrorCode, GemmChoice, GemmEngineName, ResolvedBackend, WorkerJob } from '@adamant/core';

/**
 * What crosses the boundary between a worker's main thread (socket, heartbeat, message order,
 * the weights mirror) and its compute thread (the gradient path: the model on its tfjs backend).
 * Weights never travel in messages: they sit in a SharedArrayBuffer that the main thread writes
 * only while the compute thread is idle, between steps. Chunk inputs go one way and gradients the
 * other as transferred buffers, each of them its own exact-size ArrayBuffer.
 */

/** A fused path's GEMM engine as the worker's identity names it (see GemmEngine.build). */
export interface GemmIdentity {
  name: GemmEngineName;
  build: string;
}

/** The thread's workerData: everything it needs to build its gradient path. */
export interface ComputeThreadData {
  job: WorkerJob;
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** Overrides the job's GEMM engine on this machine. */
  gemm?: GemmChoice;
  /** The weights, job.paramCount float32s, written by the main thread between steps only. */
  weights: SharedArrayBuffer;
  /** One int32: 1 asks the thread to skip the rest of the current step (its results are no longer wanted). */
  control: SharedArrayBuffer;
}

/** One chunk to compute: the step message's chunk, its inputs and targets decoded. */
export interface ChunkInput {
  index: number;
  samples: number;
  seed: number;
  /** samples x inputShape values. */
  x: Float32Array;
  /** One target per sample. */
  y: Float32Array;
  /** One weight per sample; absent when every sample weighs 1. */
  w?: Float32Array;
}

/**
 * Main thread -> compute thread: "load the shared weights, then compute these chunks in order":
 * their gradients, or with `evaluate`, forward only, their loss and metric statistics.
 */
export interface ComputeStepRequest {
  type: 'step';
  evaluate: boolean;
  chunks: ChunkInput[];
}

/** Compute thread -> main thread. */
export type ComputeThreadReply =
  /**
   * "My gradient path is built on this backend (and, on the fused path, this GEMM engine); send
   * steps." `gemmFallback`: the line to log when gemm auto could not load OpenBLAS.
   */
  | { type: 'ready'; backend: ResolvedBackend; paramCount: number; gemm?: GemmIdentity; gemmFallback?: string }
  /** "Here is chunk `index` of the current step." Sent as each chunk finishes. */
  | { type: 'chunk'; index: number; gradient: ChunkGradient }
  /** "Here are the statistics of forward-only chunk `index` of the current step." */
  | { type: 'evaluated'; index: number; evaluation: ChunkEvaluation }
  /** "The step is over: every chunk computed, or the rest skipped because it was cancelled." */
  | { type: 'stepDone'; computed: number; setWeightsMs: number; computeMs: number }
  /** "I cannot go on: here is why." Errors keep their code and message across the boundary. */
  | { type: 'error'; code: ErrorCode; message: string; stack?: string };
