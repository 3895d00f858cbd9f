import { hostname } from 'node:os';
import WebSocket from 'ws';
import {
  AdamantError,
  ConnectError,
  createCodec,
  encodeChunkResult,
  PROTOCOL_VERSION,
  ProtocolError,
  readFloats,
  silentLog,
  toAdamantError,
  type CoordinatorMessage,
  type Log,
  type StepMessage,
  type WorkerJob,
  type WorkerMessage,
} from '@adamant/core';
import { createGradientPath } from './createGradientPath.js';
import type { GradientPath } from './GradientPath.js';
import { WeightsMirror } from './WeightsMirror.js';

export interface WorkerOptions {
  /** The coordinator's address, ws://HOST:PORT. */
  url: string;
  /** Shared secret the coordinator may require. */
  token?: string;
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** How long to keep trying to reach the coordinator before giving up (ms). */
  connectTimeoutMs?: number;
  /** Largest frame accepted from the coordinator (bytes). */
  maxPayload?: number;
  log?: Log;
}

export interface WorkerSummary {
  workerId: number;
  backend: string;
  steps: number;
  chunks: number;
  samples: number;
}

const RETRY_DELAY_MS = 250;

/** The coordinator refused us (wrong token, other protocol version, bad frame). */
class RejectedError extends AdamantError {
  override name = 'RejectedError';
}

function describeSocketError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return err.message || String(err.code);
  }
}

/** Opens the WebSocket, retrying refused connections until the deadline. */
async function connect(url: string, deadline: number, maxPayload: number, log: Log): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    const socket = new WebSocket(url, { maxPayload, perMessageDeflate: false });
    socket.binaryType = 'nodebuffer';
    const outcome = await new Promise<Error | null>((resolve) => {
      socket.once('open', () => resolve(null));
      socket.once('error', (err) => resolve(err));
    });
    if (!outcome) return socket;
    const reason = describeSocketError(outcome);
    const retriable = (outcome as { code?: string }).code === 'ECONNREFUSED';
    if (!retriable || Date.now() + RETRY_DELAY_MS > deadline) {
      throw new ConnectError(`cannot reach coordinator at ${url}: ${reason}${attempt > 1 ? ` (${attempt} attempts)` : ''}`, { cause: outcome });
    }
    log.debug('coordinator not reachable yet, retrying', { url, reason });
    await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
  }
}

/**
 * A worker: connects to a coordinator, handshakes, then computes the gradient sums of the
 * chunks each step assigns to it until the coordinator says the job is done. Started by
 * `adamant worker --connect ws://HOST:PORT` (or by `adamant train` for local runs).
 * Resolves with a summary when training ends; rejects with an AdamantError otherwise.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const log = options.log ?? silentLog;
  const codec = createCodec();
  const peer = `coordinator ${options.url}`;
  const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
  const socket = await connect(options.url, deadline, options.maxPayload ?? 2 ** 31 - 1, log);
  const summary: WorkerSummary = { workerId: -1, backend: '', steps: 0, chunks: 0, samples: 0 };
  let computer: GradientPath | undefined;
  let mirror: WeightsMirror | undefined;
  let finished = false;
  // The coordinator pings us four times per heartbeat period; a whole period of silence means it is gone.
  let heartbeatMs = 0;
  let silenceTimer: NodeJS.Timeout | undefined;
  const heard = () => {
    clearTimeout(silenceTimer);
    if (heartbeatMs > 0 && !finished) {
      silenceTimer = setTimeout(() => {
        socket.emit('silent');
      }, heartbeatMs);
    }
  };

  const send = (message: WorkerMessage) => socket.send(codec.encode(message));

  const handle = async (message: CoordinatorMessage): Promise<void> => {
    switch (message.type) {
      case 'welcome': {
        if (message.protocol !== PROTOCOL_VERSION) {
          throw new ProtocolError(`${peer} speaks protocol ${message.protocol}, this worker speaks ${PROTOCOL_VERSION}`, 'E_VERSION');
        }
        summary.workerId = message.workerId;
        heartbeatMs = message.heartbeatMs;
        heard();
        computer = await createGradientPath(message.job, options.backend);
        mirror = new WeightsMirror(message.job);
        summary.backend = computer.backend;
        log.info('joined', { workerId: message.workerId, backend: computer.backend, params: computer.paramCount });
        send({ type: 'ready', backend: computer.backend });
        return;
      }
      case 'step':
        if (!computer || !mirror) throw new ProtocolError(`${peer}: sent a step before the welcome`);
        await computeStep(computer, mirror, message);
        return;
      case 'reject':
        throw new RejectedError(message.code, `${peer} refused this worker: ${message.message}`);
      case 'done':
        finished = true;
        clearTimeout(silenceTimer);
        socket.close(1000, 'done');
        return;
    }
  };

  const computeStep = async (gradients: GradientPath, mirror: WeightsMirror, message: StepMessage): Promise<void> => {
    const started = performance.now();
    gradients.setWeights(mirror.update(message, peer));
    const loaded = performance.now();
    for (const chunk of message.chunks) {
      const x = readFloats(chunk.x, undefined, `chunk ${chunk.index} inputs`, peer);
      const y = readFloats(chunk.y, chunk.samples, `chunk ${chunk.index} targets`, peer);
      const result = gradients.compute(x, y, chunk.samples, chunk.seed);
      send(encodeChunkResult(message.step, chunk.index, chunk.samples, result));
      summary.chunks++;
      summary.samples += chunk.samples;
      // Let the socket breathe between chunks: results go out, and the coordinator's pings get pongs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    summary.steps++;
    log.debug('step computed', { step: message.step, chunks: message.chunks.length, setWeightsMs: +(loaded - started).toFixed(1), computeMs: +(performance.now() - loaded).toFixed(1) });
  };

  return new Promise<WorkerSummary>((resolve, reject) => {
    let failure: AdamantError | undefined;
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
    socket.once('silent', () => {
      failure ??= new ConnectError(`${peer} has been silent for ${heartbeatMs / 1000} s (heartbeat); presumed gone`);
      // terminate(), not close(): a coordinator behind a partition would never answer the close handshake.
      socket.terminate();
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      heard();
      queue = queue.then(async () => {
        if (failure || finished) return;
        try {
          if (!isBinary) throw new ProtocolError(`${peer}: sent a text frame; the protocol is binary msgpack`);
          await handle(codec.decodeCoordinatorMessage(data, peer));
        } catch (err) {
          fail(err, err instanceof RejectedError);
        }
      });
    });
    socket.on('error', (err) => {
      failure ??= new ConnectError(`${peer}: ${describeSocketError(err)}`, { cause: err });
    });
    socket.on('close', (code, reason) => {
      clearTimeout(silenceTimer);
      void queue.then(() => {
        computer?.dispose();
        if (finished && !failure) return resolve(summary);
        const why = reason.toString() || `code ${code}`;
        reject(failure ?? new ConnectError(`${peer} closed the connection before training finished (${why})`));
      });
    });
    send({ type: 'hello', protocol: PROTOCOL_VERSION, name: `${hostname()}:${process.pid}`, ...(options.token ? { token: options.token } : {}) });
  });
}
