import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { toAdamantError, type ChunkGradient } from '@adamant/core';
import type { ComputeStepRequest, ComputeThreadData, ComputeThreadReply } from './computeThreadMessages.js';
import { createGradientPath } from './createGradientPath.js';
import type { GradientPath } from './GradientPath.js';

/**
 * The compute thread (started by ComputeThread, never imported): builds the gradient path, which
 * picks the tfjs backend, then computes the chunks of each step the main thread hands it and posts
 * each result as it finishes. It runs the very code the main thread used to run, on the same
 * backend, so its results are bitwise those of an in-process GradientPath. The main thread
 * meanwhile answers the coordinator's pings, however long a chunk takes.
 */

/**
 * ADAMANT_SLOW_CHUNK_MS=N, a testing aid: wait N ms before each chunk (forward-only ones too), to
 * play a chunk slower than the heartbeat. It only delays; what is computed, and so every result, stays the same.
 */
const slowChunkMs = Math.max(0, Number(process.env.ADAMANT_SLOW_CHUNK_MS) || 0);

function post(port: MessagePort, reply: ComputeThreadReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

/** Errors cross the boundary as their code and message, which is all the coordinator is told. */
function postError(port: MessagePort, err: unknown): void {
  const error = toAdamantError(err);
  const origin = error.cause instanceof Error ? error.cause : error;
  post(port, { type: 'error', code: error.code, message: error.message, ...(origin.stack ? { stack: origin.stack } : {}) });
}

/** The result in buffers of its own, to transfer: the path may reuse its arrays for the next chunk. */
function ownBuffers(result: ChunkGradient): { gradient: ChunkGradient; buffers: ArrayBuffer[] } {
  const dense = result.dense.slice();
  if (!result.sparse) return { gradient: { ...result, dense }, buffers: [dense.buffer] };
  const rows = result.sparse.rows.slice();
  const values = result.sparse.values.slice();
  return { gradient: { ...result, dense, sparse: { rows, values } }, buffers: [dense.buffer, rows.buffer, values.buffer] };
}

function computeStep(port: MessagePort, path: GradientPath, weights: Float32Array, cancel: Int32Array, { chunks, evaluate }: ComputeStepRequest): void {
  const started = performance.now();
  // The main thread wrote this step's weights before posting the request and leaves them alone until stepDone.
  path.setWeights(weights);
  const loaded = performance.now();
  let computed = 0;
  for (const chunk of chunks) {
    if (Atomics.load(cancel, 0) !== 0) break;
    // Waits on the cancel flag itself, so a cancelled step does not sit out the delay.
    if (slowChunkMs > 0 && Atomics.wait(cancel, 0, 0, slowChunkMs) !== 'timed-out') break;
    if (evaluate) {
      post(port, { type: 'evaluated', index: chunk.index, evaluation: path.evaluate(chunk.x, chunk.y, chunk.samples, chunk.w) });
    } else {
      const { gradient, buffers } = ownBuffers(path.compute(chunk.x, chunk.y, chunk.samples, chunk.seed, chunk.w));
      post(port, { type: 'chunk', index: chunk.index, gradient }, buffers);
    }
    computed++;
  }
  post(port, { type: 'stepDone', computed, setWeightsMs: loaded - started, computeMs: performance.now() - loaded });
}

async function serve(port: MessagePort, data: ComputeThreadData): Promise<void> {
  let gemmFallback: string | undefined;
  const path = await createGradientPath(data.job, {
    ...(data.backend ? { backend: data.backend } : {}),
    ...(data.gemm ? { gemm: data.gemm } : {}),
    onGemmFallback: (message) => {
      gemmFallback = message;
    },
  });
  const weights = new Float32Array(data.weights);
  const cancel = new Int32Array(data.control);
  // Steps come one at a time (the main thread waits for stepDone), and each runs to its end synchronously.
  port.on('message', (request: ComputeStepRequest) => {
    try {
      computeStep(port, path, weights, cancel, request);
    } catch (err) {
      postError(port, err);
    }
  });
  // The build goes on the wire in the ready message, which bounds it.
  const gemm = path.gemm ? { gemm: { name: path.gemm.name, build: path.gemm.build.slice(0, 64) } } : {};
  post(port, { type: 'ready', backend: path.backend, paramCount: path.paramCount, ...gemm, ...(gemmFallback ? { gemmFallback } : {}) });
}

if (!parentPort) throw new Error('computeThreadEntry runs as a worker thread; start it with ComputeThread');
const port = parentPort;
serve(port, workerData as ComputeThreadData).catch((err: unknown) => postError(port, err));
