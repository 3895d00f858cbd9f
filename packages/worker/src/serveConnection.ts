import { hostname } from 'node:os';
import WebSocket from 'ws';
import {
  AdamantError,
  authProof,
  ConnectError,
  encodeChunkResult,
  printable,
  PROTOCOL_VERSION,
  ProtocolError,
  readChunkWeights,
  readFloats,
  ShapeError,
  toAdamantError,
  type ChunkEvaluation,
  type ChunkGradient,
  type CoordinatorMessage,
  type GemmChoice,
  type Log,
  type MessageCodec,
  type StepMessage,
  type WorkerJob,
  type WorkerMessage,
} from '@adamant/core';
import { ComputeThread } from './ComputeThread.js';
import { describeSocketError } from './connect.js';
import { describeEngine } from './gemm/loadGemmEngine.js';
import { parameterCountOf } from './parameterCount.js';
import { WeightsMirror } from './WeightsMirror.js';

export interface WorkerSummary {
  workerId: number;
  backend: string;
  /** The fused path's GEMM engine with its build ("openblas 0.3.21 Haswell"); absent on autodiff. */
  gemm?: string;
  steps: number;
  chunks: number;
  samples: number;
  /** How many times the worker rejoined its job after losing the coordinator. */
  reconnects: number;
}

/** What outlives one connection: the job this worker serves, with its compute thread and weights; the heartbeat; the summary. */
export interface WorkerState {
  job?: { id: string; compute: ComputeThread; mirror: WeightsMirror };
  /** The coordinator's heartbeat period (ms, clamped to what a timer can hold); 0 before the first welcome. */
  heartbeatMs: number;
  summary: WorkerSummary;
}

export interface ConnectionContext {
  url: string;
  token?: string;
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** Overrides the job's GEMM engine (job.gemm, default auto) on this machine. */
  gemm?: GemmChoice;
  /** A job with more parameters than this is refused before any model is built (--max-params). */
  maxParams: number;
  /** From connecting to the welcome: a coordinator that says nothing for this long is lost (ms). */
  handshakeTimeoutMs: number;
  log: Log;
  codec: MessageCodec;
  state: WorkerState;
}

/** How a connection ended, short of an error that ends the worker. `welcomed`: whether it got as far as a welcome. */
export type ConnectionEnd = { welcomed: boolean } & (
  | { kind: 'done' }
  /** The coordinator said it is stopping before the job is done; a checkpoint is saved. */
  | { kind: 'stopped'; reason: string }
  /** Closed without done, silent past the heartbeat, or a socket error: the coordinator may come back. */
  | { kind: 'lost'; error: ConnectError }
);

/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days); a longer heartbeat would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The coordinator refused us (wrong token, other protocol version, another job, bad frame). */
class RejectedError extends AdamantError {
  override name = 'RejectedError';
}

/**
 * One connection to the coordinator, from its challenge to its end: the handshake (answer the
 * challenge with the proof of the token, take the welcome), the heartbeat, and the
 * coordinator's messages handled strictly in order, so a step's weights are taken only after the
 * previous step's chunks are all computed and sent. Chunks are computed on the job's compute
 * thread, started at the first welcome and kept across connections to the same job. Resolves
 * with how the connection ended; rejects with an error that ends the worker (a reject, a bad
 * frame, another job, a failed computation), after telling the coordinator with `failed`.
 */
export function serveConnection(socket: WebSocket, context: ConnectionContext): Promise<ConnectionEnd> {
  const { state, log, codec } = context;
  const { summary } = state;
  const peer = `coordinator ${context.url}`;
  let helloSent = false;
  let welcomed = false;
  let finished = false;
  let stopReason: string | undefined;
  let closed = false;
  let stepInFlight = false;
  // The coordinator pings us four times per heartbeat period; a whole period of silence means it is gone.
  let silenceTimer: NodeJS.Timeout | undefined;
  const heard = () => {
    clearTimeout(silenceTimer);
    if (state.heartbeatMs > 0 && !finished && !closed) silenceTimer = setTimeout(() => socket.emit('silent'), state.heartbeatMs);
  };
  const send = (message: WorkerMessage) => socket.send(codec.encode(message));

  // A coordinator that takes the connection but never challenges or welcomes us would hold it for ever.
  const handshakeTimer = setTimeout(() => socket.emit('handshakeTimeout'), context.handshakeTimeoutMs);

  const answerChallenge = (message: Extract<CoordinatorMessage, { type: 'challenge' }>): void => {
    // Another version was refused as the frame was decoded (E_VERSION); this is belt and braces.
    if (message.protocol !== PROTOCOL_VERSION) throw new ProtocolError(`${peer} speaks protocol ${message.protocol}, this worker speaks ${PROTOCOL_VERSION}`, 'E_VERSION');
    if (helloSent) throw new ProtocolError(`${peer}: sent a second challenge`);
    helloSent = true;
    const jobId = state.job?.id;
    // The token itself never goes on the wire: only its HMAC of this connection's nonce.
    const proof = context.token ? { proof: authProof(context.token, message.nonce) } : {};
    send({ type: 'hello', protocol: PROTOCOL_VERSION, name: `${hostname()}:${process.pid}`, ...proof, ...(jobId ? { jobId } : {}) });
  };

  const welcome = async (message: Extract<CoordinatorMessage, { type: 'welcome' }>): Promise<void> => {
    if (message.protocol !== PROTOCOL_VERSION) {
      throw new ProtocolError(`${peer} speaks protocol ${message.protocol}, this worker speaks ${PROTOCOL_VERSION}`, 'E_VERSION');
    }
    if (!helloSent) throw new ProtocolError(`${peer}: sent a welcome before its challenge`);
    if (welcomed) throw new ProtocolError(`${peer}: sent a second welcome`);
    clearTimeout(handshakeTimer);
    // Belt and braces: a coordinator of another job should already have refused our hello.
    if (state.job && message.jobId !== state.job.id) {
      throw new ProtocolError(`${peer} runs job ${printable(message.jobId, 64)}, but this worker served job ${state.job.id}`, 'E_JOB');
    }
    // Before building anything: the job's size is the coordinator's word, and a model is memory.
    const params = Math.max(message.job.paramCount, parameterCountOf(message.job));
    if (!state.job && params > context.maxParams) {
      throw new ShapeError(`${peer} sent a job of ${params.toLocaleString('en-US')} parameters, more than this worker accepts (--max-params ${context.maxParams.toLocaleString('en-US')})`);
    }
    state.heartbeatMs = Math.min(message.heartbeatMs, MAX_TIMER_MS);
    heard();
    summary.workerId = message.workerId;
    // From here on every line names this worker as the coordinator's logs do.
    log.setBindings?.({ worker: message.workerId });
    if (state.job) {
      // The same job: the compute thread, its model and the weights mirror carry on as they were.
      summary.reconnects++;
      log.info('rejoined', { workerId: message.workerId, jobId: state.job.id, reconnects: summary.reconnects });
    } else {
      const compute = await ComputeThread.start(message.job, { ...(context.backend ? { backend: context.backend } : {}), ...(context.gemm ? { gemm: context.gemm } : {}) });
      state.job = { id: message.jobId, compute, mirror: new WeightsMirror(message.job, compute.weights) };
      summary.backend = compute.backend;
      if (compute.gemm) summary.gemm = describeEngine(compute.gemm);
      if (compute.gemmFallback) log.warn(compute.gemmFallback);
      const engine = summary.gemm ? { gemm: summary.gemm } : {};
      log.info('joined', { workerId: message.workerId, backend: compute.backend, ...engine, params: message.job.paramCount, jobId: printable(message.jobId, 64) });
    }
    welcomed = true;
    const { backend, gemm } = state.job.compute;
    send({ type: 'ready', backend, ...(gemm ? { gemm: gemm.name, ...(gemm.build ? { gemmBuild: gemm.build } : {}) } : {}) });
  };

  const computeStep = async (message: StepMessage): Promise<void> => {
    const job = state.job;
    if (!welcomed || !job) throw new ProtocolError(`${peer}: sent a step before the welcome`);
    const chunks = message.chunks.map((chunk) => ({
      index: chunk.index,
      samples: chunk.samples,
      seed: chunk.seed,
      x: readFloats(chunk.x, undefined, `chunk ${chunk.index} inputs`, peer),
      y: readFloats(chunk.y, chunk.samples, `chunk ${chunk.index} targets`, peer),
      ...(chunk.w ? { w: readChunkWeights(chunk.w, chunk.samples, `chunk ${chunk.index} sample weights`, peer) } : {}),
    }));
    const samplesOf = new Map(chunks.map((c) => [c.index, c.samples]));
    const load = () => job.mirror.update(message, peer);
    // Once the connection is gone the coordinator hands a chunk to another worker: its result is dropped.
    // Each result says how long this worker spent on it (since the step arrived, or since its previous result): the dashboard's compute share, never used in results.
    let lastResultAt = performance.now();
    const deliver = (index: number, result: ChunkGradient | ChunkEvaluation): boolean => {
      if (socket.readyState !== WebSocket.OPEN) return false;
      const now = performance.now();
      send({ ...encodeChunkResult(message.step, index, samplesOf.get(index)!, result), computeMs: Math.min(now - lastResultAt, 86_400_000) });
      lastResultAt = now;
      return true;
    };
    stepInFlight = true;
    try {
      // Forward-only chunks (validation) are not training: the summary counts neither them nor their samples.
      const timing = message.evaluate
        ? await job.compute.runEvaluation(load, chunks, deliver)
        : await job.compute.runStep(load, chunks, (index, gradient) => {
            if (!deliver(index, gradient)) return;
            summary.chunks++;
            summary.samples += samplesOf.get(index)!;
          });
      if (timing.computed === chunks.length && !message.evaluate) summary.steps++;
      const what = message.evaluate ? 'chunks evaluated' : 'step computed';
      log.debug(what, { step: message.step, chunks: timing.computed, setWeightsMs: +timing.setWeightsMs.toFixed(1), computeMs: +timing.computeMs.toFixed(1) });
    } finally {
      stepInFlight = false;
    }
  };

  const handle = async (message: CoordinatorMessage): Promise<void> => {
    switch (message.type) {
      case 'challenge':
        return answerChallenge(message);
      case 'welcome':
        return welcome(message);
      case 'step':
        return computeStep(message);
      case 'reject':
        throw new RejectedError(message.code, `${peer} refused this worker: ${printable(message.message, 500)}`);
      case 'done':
        finished = true;
        clearTimeout(silenceTimer);
        socket.close(1000, 'done');
        return;
      case 'stop':
        stopReason = printable(message.reason);
        clearTimeout(silenceTimer);
        socket.close(1000, 'stopped');
        return;
    }
  };

  return new Promise<ConnectionEnd>((resolve, reject) => {
    let failure: AdamantError | undefined;
    let lost: ConnectError | undefined;
    // Messages are handled strictly in order: a step never starts before the welcome is done.
    let queue = Promise.resolve();
    const fail = (err: unknown, rejected = false) => {
      failure ??= toAdamantError(err);
      // After a reject the coordinator has already dropped us: nothing to tell it.
      if (socket.readyState === WebSocket.OPEN && !rejected) {
        try {
          send({ type: 'failed', code: failure.code, message: failure.message });
        } catch {
          // The socket is going away anyway.
        }
        socket.close(1011, failure.code);
      }
    };
    socket.on('ping', heard);
    socket.once('handshakeTimeout', () => {
      if (welcomed || closed) return;
      const seconds = context.handshakeTimeoutMs / 1000;
      const what = helloSent ? 'no welcome' : 'no challenge';
      const hint = helloSent ? '' : ` (a coordinator older than protocol ${PROTOCOL_VERSION} sends none)`;
      lost ??= new ConnectError(`${peer} sent ${what} within ${seconds} s of connecting${hint}`);
      socket.terminate();
    });
    socket.once('silent', () => {
      lost ??= new ConnectError(`${peer} has been silent for ${state.heartbeatMs / 1000} s (heartbeat); presumed gone`);
      // terminate(), not close(): a coordinator behind a partition would never answer the close handshake.
      socket.terminate();
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      heard();
      queue = queue.then(async () => {
        if (failure || finished || stopReason !== undefined) return;
        try {
          if (!isBinary) throw new ProtocolError(`${peer}: sent a text frame; the protocol is binary msgpack`);
          const message = codec.decodeCoordinatorMessage(data, peer);
          // A stop or done that came just before the close, while a step was computing, still says
          // why the connection ended; anything else is moot once it has.
          if (closed && message.type !== 'stop' && message.type !== 'done') return;
          await handle(message);
        } catch (err) {
          fail(err, err instanceof RejectedError);
        }
      });
    });
    socket.on('error', (err) => {
      lost ??= new ConnectError(`${peer}: ${describeSocketError(err)}`, { cause: err });
    });
    socket.on('close', (code, reason) => {
      closed = true;
      clearTimeout(silenceTimer);
      clearTimeout(handshakeTimer);
      // The step's chunks not yet begun are no longer ours (the coordinator reassigns them); the one in progress finishes.
      if (stepInFlight) state.job?.compute.cancel();
      void queue.then(() => {
        if (failure) return reject(failure);
        if (finished) return resolve({ kind: 'done', welcomed });
        if (stopReason !== undefined) return resolve({ kind: 'stopped', reason: stopReason, welcomed });
        const why = printable(reason.toString()) || `code ${code}`;
        resolve({ kind: 'lost', welcomed, error: lost ?? new ConnectError(`${peer} closed the connection before training finished (${why})`) });
      });
    });
    // On a reconnect the heartbeat is already known: a coordinator that takes the connection but never welcomes us is lost too.
    heard();
    // connect() holds the frames that came before these listeners (the challenge, often with the upgrade response).
    socket.resume();
  });
}
