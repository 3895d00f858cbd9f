import type { BackendName, GemmChoice } from '@adamant/core';
import { CoordinatorStoppedError, runWorker } from '@adamant/worker';
import { createLog, type LogLevel } from '../logger.js';
import { readTrustedCa } from '../tls.js';
import { givenToken } from '../token.js';

export interface WorkerCommandOptions {
  connect: string;
  token?: string;
  tokenFile?: string;
  backend?: BackendName;
  gemm?: GemmChoice;
  maxParams: number;
  handshakeTimeout: number;
  connectTimeout: number;
  reconnectTimeout: number;
  logLevel: LogLevel;
  logJson?: boolean;
  /** For wss://: a CA certificate file to trust, or the coordinator certificate's pin (already parsed). */
  tlsCa?: string;
  tlsFingerprint?: string;
}

/**
 * `adamant worker --connect ws://HOST:PORT`: computes gradients for a coordinator until the job
 * ends. Its log lines say `worker`, and from the coordinator's welcome on the id the coordinator's
 * own lines give it.
 */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true, 'worker');
  const token = givenToken(options, log);
  const tls = options.tlsFingerprint ? { fingerprint: options.tlsFingerprint } : options.tlsCa ? { ca: readTrustedCa(options.tlsCa) } : undefined;
  try {
    const summary = await runWorker({
      url: options.connect,
      ...(tls ? { tls } : {}),
      ...(token ? { token } : {}),
      ...(options.backend ? { backend: options.backend } : {}),
      ...(options.gemm ? { gemm: options.gemm } : {}),
      connectTimeoutMs: options.connectTimeout * 1000,
      reconnectTimeoutMs: options.reconnectTimeout * 1000,
      maxParams: options.maxParams,
      handshakeTimeoutMs: options.handshakeTimeout * 1000,
      log,
    });
    log.info('training finished', { ...summary });
  } catch (err) {
    // A coordinator stopped by a signal saved a checkpoint; a worker told not to wait for it (--reconnect-timeout 0) is done, not failed.
    if (err instanceof CoordinatorStoppedError) return;
    throw err;
  }
}
