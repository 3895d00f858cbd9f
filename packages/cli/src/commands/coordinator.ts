import { randomBytes } from 'node:crypto';
import { createLog, type LogLevel } from '../logger.js';
import { finishTraining, prepareCoordinator, stopOnSignals, type TrainingOptions } from './shared.js';

export interface CoordinatorCommandOptions extends TrainingOptions {
  port: number;
  host: string;
  minWorkers: number;
  workerTimeout: number;
  heartbeat: number;
  token?: string;
  logLevel: LogLevel;
  logJson?: boolean;
}

/**
 * `adamant coordinator CONFIG --port P`: the parameter server of a multi-machine job. Workers
 * join with `adamant worker --connect ws://HOST:P --token T`; training starts once
 * `--min-workers` are ready, and later workers join at the next step. With --resume it continues
 * a stopped or crashed run; its workers reconnect to it on their own.
 */
export async function coordinatorCommand(configPath: string | undefined, options: CoordinatorCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true);
  const token = options.token ?? process.env.ADAMANT_TOKEN ?? randomBytes(16).toString('hex');
  const workerTimeoutMs = options.workerTimeout > 0 ? options.workerTimeout * 1000 : undefined;
  const run = await prepareCoordinator(configPath, { ...options, token, heartbeatMs: options.heartbeat * 1000, ...(workerTimeoutMs ? { workerTimeoutMs } : {}) }, log);
  const { coordinator, progress } = run;
  const uninstall = stopOnSignals(run, log);
  try {
    if (coordinator.config.epochs > 0) {
      const { port } = await coordinator.listen({ host: options.host, port: options.port });
      const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'THIS_HOST' : options.host;
      process.stderr.write(
        `adamant coordinator listening on ${options.host}:${port}; waiting for ${options.minWorkers} worker(s). Start each with:\n` +
          `  ADAMANT_TOKEN=${token} adamant worker --connect ws://${shownHost}:${port}\n`,
      );
    }
    const result = await coordinator.train();
    progress.stop();
    const again = `adamant coordinator${run.configPath ? ` ${run.configPath}` : ''} --port ${options.port}`;
    await finishTraining(run, result, options, coordinator.workerCount, again);
  } finally {
    progress.stop();
    uninstall();
    await coordinator.close();
  }
}
