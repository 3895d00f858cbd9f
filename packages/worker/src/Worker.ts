import { AdamantError, createCodec, silentLog, type GemmChoice, type Log, type WorkerJob } from '@adamant/core';
import { connect, reconnect, type Endpoint, type Reconnection } from './connect.js';
import { serveConnection, type ConnectionContext, type WorkerState, type WorkerSummary } from './serveConnection.js';
import type { WorkerTls } from './tls.js';

export type { WorkerSummary };

/** The largest job a worker takes by default: 50 million parameters, 200 MB of float32 weights. */
export const DEFAULT_MAX_PARAMS = 50_000_000;

export interface WorkerOptions {
  /** The coordinator's address, ws://HOST:PORT or wss://HOST:PORT. */
  url: string;
  /** For wss://: a CA or a pinned certificate to trust (default: the system CAs). */
  tls?: WorkerTls;
  /** Shared secret the coordinator may require. */
  token?: string;
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** The fused path's GEMM engine on this machine; default: the job's (`auto` unless the coordinator set one). */
  gemm?: GemmChoice;
  /** How long to keep trying to reach the coordinator before giving up (ms). */
  connectTimeoutMs?: number;
  /**
   * After losing the coordinator mid-job (closed, silent, or stopped by it), how long to keep
   * trying to rejoin the same job at the same address (ms; default 5 minutes). 0: do not wait;
   * a lost connection fails, and a `stop` ends the worker with CoordinatorStoppedError.
   */
  reconnectTimeoutMs?: number;
  /** Largest frame accepted from the coordinator (bytes). */
  maxPayload?: number;
  /** A job with more parameters is refused before any model is built (E_SHAPE). Default 50,000,000. */
  maxParams?: number;
  /** From connecting to the welcome: a coordinator silent this long counts as lost (ms). Default 15 s. */
  handshakeTimeoutMs?: number;
  log?: Log;
}

/**
 * The coordinator stopped the job before its end (asked to, by a signal; it saved a checkpoint)
 * and this worker was told not to wait for it to resume (reconnectTimeoutMs 0). Not a failure:
 * the CLI exits 0 on it.
 */
export class CoordinatorStoppedError extends AdamantError {
  override name = 'CoordinatorStoppedError';
  constructor(
    url: string,
    readonly reason: string,
  ) {
    super('E_CONNECT', `coordinator ${url} stopped: ${reason}`);
  }
}

/**
 * A worker: connects to a coordinator, handshakes, then computes the gradient sums of the
 * chunks each step assigns to it, on a compute thread, until the coordinator says the job is
 * done. When it loses the coordinator mid-job it reconnects to the same address for up to
 * `reconnectTimeoutMs` and rejoins the same job (same jobId), keeping its model. Started by
 * `adamant worker --connect ws://HOST:PORT` (or by `adamant train` for local runs).
 * Resolves with a summary when training is done; rejects with an AdamantError otherwise.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const log = options.log ?? silentLog;
  const reconnectTimeoutMs = options.reconnectTimeoutMs ?? 300_000;
  const endpoint: Endpoint = { url: options.url, maxPayload: options.maxPayload ?? 2 ** 31 - 1, ...(options.tls ? { tls: options.tls } : {}) };
  const state: WorkerState = { heartbeatMs: 0, summary: { workerId: -1, backend: '', steps: 0, chunks: 0, samples: 0, reconnects: 0 } };
  const context: ConnectionContext = {
    url: options.url,
    ...(options.token ? { token: options.token } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.gemm ? { gemm: options.gemm } : {}),
    maxParams: options.maxParams ?? DEFAULT_MAX_PARAMS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 15_000,
    log,
    codec: createCodec(),
    state,
  };
  try {
    let socket = await connect(endpoint, Date.now() + (options.connectTimeoutMs ?? 30_000), log);
    // Set while trying to rejoin; it spans connections lost before their welcome, and ends with one.
    let reconnection: Reconnection | undefined;
    for (;;) {
      const end = await serveConnection(socket, context);
      if (end.kind === 'done') return state.summary;
      if (end.welcomed) reconnection = undefined;
      // Before a first welcome there is no job to rejoin; with reconnectTimeoutMs 0 the worker does not wait.
      if (!state.job || reconnectTimeoutMs === 0) {
        if (end.kind === 'lost') throw end.error;
        log.info(`coordinator stopped: ${end.reason}`);
        throw new CoordinatorStoppedError(options.url, end.reason);
      }
      if (!reconnection) {
        const now = Date.now();
        reconnection = { since: now, deadline: now + reconnectTimeoutMs, attempts: 0 };
        const why = end.kind === 'stopped' ? `coordinator stopped: ${end.reason}` : end.error.message;
        log.warn(`lost the coordinator (${why}); trying to rejoin job ${state.job.id} for up to ${reconnectTimeoutMs / 1000} s`);
      } else if (end.kind === 'lost') {
        reconnection.lastFailure = end.error.message;
      }
      socket = await reconnect(endpoint, reconnection, log);
    }
  } finally {
    await state.job?.compute.terminate();
  }
}
