import { Worker } from 'node:worker_threads';
import { AdamantError, toAdamantError, type ChunkEvaluation, type ChunkGradient, type GemmChoice, type ResolvedBackend, type WorkerJob } from '@adamant/core';
import type { ChunkInput, ComputeStepRequest, ComputeThreadData, ComputeThreadReply, GemmIdentity } from './computeThreadMessages.js';

export type { ChunkInput, GemmIdentity };

export interface ComputeThreadOptions {
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** Overrides the job's GEMM engine (job.gemm, default auto) on this machine. */
  gemm?: GemmChoice;
  /** The thread's compiled entry file; by default computeThreadEntry.js beside this module (tests built from src point at dist). */
  entry?: URL;
}

/** How long the thread spent on a step's weights and chunks (ms), for the debug log. */
export interface StepTiming {
  computed: number;
  setWeightsMs: number;
  computeMs: number;
}

/** The step the thread computes now: its chunks' gradients, or forward only, their statistics. */
type RunningStep = {
  resolve: (timing: StepTiming) => void;
  reject: (error: AdamantError) => void;
} & ({ evaluate: false; onChunk: (index: number, gradient: ChunkGradient) => void } | { evaluate: true; onChunk: (index: number, evaluation: ChunkEvaluation) => void });

/** The error a thread reported, with the code and message it had there (and its stack, for ADAMANT_DEBUG). */
function errorFromThread(reply: Extract<ComputeThreadReply, { type: 'error' }>): AdamantError {
  const origin = new Error(reply.message);
  if (reply.stack) origin.stack = reply.stack;
  return new AdamantError(reply.code, reply.message, { cause: origin });
}

/** The arrays of a chunk as buffers of their own, which can be transferred without copying the step's frame. */
function owned(array: Float32Array): Float32Array<ArrayBuffer> {
  const whole = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength && array.buffer instanceof ArrayBuffer;
  return whole ? (array as Float32Array<ArrayBuffer>) : array.slice();
}

/**
 * The worker's compute thread, seen from the main thread: a `worker_threads` Worker holding the
 * gradient path, so that a long chunk never keeps the main thread from answering pings and
 * reading frames. Started once per job with `ComputeThread.start(job)`; `runStep` (gradients) and
 * `runEvaluation` (forward only) then compute one step at a time. The weights live in `weights`,
 * a SharedArrayBuffer view that their `load` callback writes while the thread is idle; the thread
 * reads it for the step that follows.
 */
export class ComputeThread {
  /** The shared parameter vector: written only inside a step's `load`, read by the thread. */
  readonly weights: Float32Array;
  backend: ResolvedBackend = 'cpu';
  /** The fused path's GEMM engine; undefined on autodiff. */
  gemm: GemmIdentity | undefined;
  /** Set when gemm auto could not load OpenBLAS: the line to log (the thread has no log of its own). */
  gemmFallback: string | undefined;
  private readonly cancelFlag: Int32Array;
  private readonly ready: Promise<void>;
  private step: RunningStep | undefined;
  private failure: AdamantError | undefined;
  private terminated = false;
  /** Steps run one after another; this settles when the last one queued has. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly thread: Worker,
    data: ComputeThreadData,
  ) {
    this.weights = new Float32Array(data.weights);
    this.cancelFlag = new Int32Array(data.control);
    this.ready = new Promise<void>((resolve, reject) => {
      thread.on('message', (reply: ComputeThreadReply) => {
        switch (reply.type) {
          case 'ready':
            this.backend = reply.backend;
            this.gemm = reply.gemm;
            this.gemmFallback = reply.gemmFallback;
            return resolve();
          case 'chunk':
            if (this.step?.evaluate === false) this.step.onChunk(reply.index, reply.gradient);
            return;
          case 'evaluated':
            if (this.step?.evaluate === true) this.step.onChunk(reply.index, reply.evaluation);
            return;
          case 'stepDone': {
            const { computed, setWeightsMs, computeMs } = reply;
            this.step?.resolve({ computed, setWeightsMs, computeMs });
            this.step = undefined;
            return;
          }
          case 'error':
            return this.fail(errorFromThread(reply), reject);
        }
      });
      thread.on('error', (err) => this.fail(toAdamantError(err), reject));
      thread.on('exit', (code) => {
        if (!this.terminated) this.fail(new AdamantError('E_INTERNAL', `the compute thread exited unexpectedly (code ${code})`), reject);
      });
    });
  }

  /** Starts the thread and builds the job's gradient path in it; rejects with the error it met (E_BACKEND, E_SHAPE, …). */
  static async start(job: WorkerJob, options: ComputeThreadOptions = {}): Promise<ComputeThread> {
    const data: ComputeThreadData = {
      job,
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.gemm ? { gemm: options.gemm } : {}),
      weights: new SharedArrayBuffer(job.paramCount * Float32Array.BYTES_PER_ELEMENT),
      control: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
    };
    // The thread inherits the environment, so ADAMANT_GRADIENTS and ADAMANT_SLOW_CHUNK_MS reach it. OpenBLAS reads the
    // process's own environment as it loads, which a thread cannot set: one thread keeps its sums in a fixed order.
    process.env.OPENBLAS_NUM_THREADS = '1';
    const thread = new Worker(options.entry ?? new URL('./computeThreadEntry.js', import.meta.url), { workerData: data });
    const compute = new ComputeThread(thread, data);
    try {
      await compute.ready;
    } catch (err) {
      await compute.terminate();
      throw err;
    }
    return compute;
  }

  /**
   * Computes one step: once the thread is idle, `load` writes the step's weights into `weights`
   * (and may throw, refusing them), then the thread computes `chunks` in order and `onChunk` gets each result as it
   * finishes (its arrays are the caller's to keep). Resolves when the step is over; rejects with
   * the thread's error, or `load`'s.
   */
  runStep(load: () => void, chunks: ChunkInput[], onChunk: (index: number, gradient: ChunkGradient) => void): Promise<StepTiming> {
    return this.run(load, chunks, (resolve, reject) => ({ evaluate: false, onChunk, resolve, reject }));
  }

  /**
   * Like `runStep`, for forward-only chunks (validation): `onChunk` gets each chunk's loss sum and
   * metric statistics, computed in inference mode; no gradient.
   */
  runEvaluation(load: () => void, chunks: ChunkInput[], onChunk: (index: number, evaluation: ChunkEvaluation) => void): Promise<StepTiming> {
    return this.run(load, chunks, (resolve, reject) => ({ evaluate: true, onChunk, resolve, reject }));
  }

  private run(load: () => void, chunks: ChunkInput[], running: (resolve: RunningStep['resolve'], reject: RunningStep['reject']) => RunningStep): Promise<StepTiming> {
    const run = this.tail.then(
      () =>
        new Promise<StepTiming>((resolve, reject) => {
          if (this.failure) return reject(this.failure);
          load();
          Atomics.store(this.cancelFlag, 0, 0);
          const transfer = new Set<ArrayBuffer>();
          const own = (array: Float32Array): Float32Array<ArrayBuffer> => {
            const mine = owned(array);
            transfer.add(mine.buffer);
            return mine;
          };
          const inputs = chunks.map((c) => ({ ...c, x: own(c.x), y: own(c.y), ...(c.w ? { w: own(c.w) } : {}) }));
          this.step = running(resolve, reject);
          const request: ComputeStepRequest = { type: 'step', evaluate: this.step.evaluate, chunks: inputs };
          this.thread.postMessage(request, [...transfer]);
        }),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Skips the chunks of the current step not yet begun: their results are no longer wanted. The chunk in progress finishes. */
  cancel(): void {
    Atomics.store(this.cancelFlag, 0, 1);
    Atomics.notify(this.cancelFlag, 0);
  }

  /** Stops the thread; what it held (the model, the backend's memory) goes with it. */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    this.cancel();
    await this.thread.terminate();
    // Nothing is left to settle a step still waiting on the thread.
    this.fail(new AdamantError('E_INTERNAL', 'the compute thread was stopped'), () => {});
  }

  private fail(error: AdamantError, rejectReady: (error: AdamantError) => void): void {
    this.failure ??= error;
    rejectReady(this.failure);
    this.step?.reject(this.failure);
    this.step = undefined;
  }
}
