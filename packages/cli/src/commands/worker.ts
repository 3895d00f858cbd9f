import type { BackendName } from '@adamant/core';
import { CoordinatorStoppedError, runWorker } from '@adamant/worker';
import { createLog, type LogLevel } from '../logger.js';

export interface WorkerCommandOptions {
  connect: string;
  token?: string;
  backend?: BackendName;
  connectTimeout: number;
  reconnectTimeout: number;
  logLevel: LogLevel;
  logJson?: boolean;
}

/** `adamant worker --connect ws://HOST:PORT`: computes gradients for a coordinator until the job ends. */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true, process.env.ADAMANT_LOG_PREFIX ?? '');
  const token = options.token ?? process.env.ADAMANT_TOKEN;
  try {
    const summary = await runWorker({
      url: options.connect,
      ...(token ? { token } : {}),
      ...(options.backend ? { backend: options.backend } : {}),
      connectTimeoutMs: options.connectTimeout * 1000,
      reconnectTimeoutMs: options.reconnectTimeout * 1000,
      log,
    });
    log.info('training finished', { ...summary });
  } catch (err) {
    // A coordinator stopped by a signal saved a checkpoint; a worker told not to wait for it (--reconnect-timeout 0) is done, not failed.
    if (err instanceof CoordinatorStoppedError) return;
    throw err;
  }
}
