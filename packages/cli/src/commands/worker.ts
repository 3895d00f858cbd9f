import type { BackendName } from '@adamant/core';
import { runWorker } from '@adamant/worker';
import { createLog, type LogLevel } from '../logger.js';

export interface WorkerCommandOptions {
  connect: string;
  token?: string;
  backend?: BackendName;
  connectTimeout: number;
  logLevel: LogLevel;
  logJson?: boolean;
}

/** `adamant worker --connect ws://HOST:PORT`: computes gradients for a coordinator until the job ends. */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true, process.env.ADAMANT_LOG_PREFIX ?? '');
  const token = options.token ?? process.env.ADAMANT_TOKEN;
  const summary = await runWorker({
    url: options.connect,
    ...(token ? { token } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    connectTimeoutMs: options.connectTimeout * 1000,
    log,
  });
  log.info('training finished', { ...summary });
}
