import { httpUrl } from '@adamant/coordinator';
import { listeningBanner, reachableAddresses, workerCommand } from '../banner.js';
import { warnOfIdleWorkers } from '../idleWorkers.js';
import { createLog, type LogLevel } from '../logger.js';
import { ensureWritableDir, listenError } from '../systemErrors.js';
import { closeServer, createCoordinatorTls } from '../tls.js';
import { coordinatorToken } from '../token.js';
import { finishTraining, prepareCoordinator, stopOnSignals, type TrainingOptions } from './shared.js';

export interface CoordinatorCommandOptions extends TrainingOptions {
  port: number;
  host: string;
  minWorkers: number;
  workerTimeout: number;
  heartbeat: number;
  token?: string;
  tokenFile?: string;
  /** Listen on a non-loopback host with a made-up token (printed) rather than refuse to start without one. */
  insecure?: boolean;
  maxConnections: number;
  logLevel: LogLevel;
  logJson?: boolean;
  quiet?: boolean;
  progressEvery?: number;
  /** PEM files: with both, workers connect over wss://. */
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * `adamant coordinator CONFIG --port P`: the parameter server of a multi-machine job. Workers
 * join with `adamant worker --connect ws://HOST:P --token-file F` (wss:// with --tls-cert and --tls-key); training starts once
 * `--min-workers` are ready, and later workers join at the next step. With --resume it continues
 * a stopped or crashed run; its workers reconnect to it on their own.
 */
export async function coordinatorCommand(configPath: string | undefined, options: CoordinatorCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true, 'coordinator');
  // Checked before the data is loaded: a wrong file fails at once.
  const tls = createCoordinatorTls(options);
  const { token, madeUp } = coordinatorToken(options, log);
  const workerTimeoutMs = options.workerTimeout > 0 ? options.workerTimeout * 1000 : undefined;
  const run = await prepareCoordinator(configPath, { ...options, token, heartbeatMs: options.heartbeat * 1000, ...(workerTimeoutMs ? { workerTimeoutMs } : {}) }, log);
  const { coordinator, progress } = run;
  ensureWritableDir(run.out);
  progress.describeJob(coordinator.config);
  progress.onWorkerEvent(warnOfIdleWorkers(coordinator.config, log));
  const uninstall = stopOnSignals(run, log);
  try {
    if (coordinator.config.epochs > 0) {
      const limits = { maxConnections: options.maxConnections };
      let port: number;
      try {
        // The TLS server serves nothing but upgrades: its idle and slow connections are closed like those of our own server.
        ({ port } = await coordinator.listen({ host: options.host, port: options.port, limits, ...(tls ? { server: tls.server, guardConnections: true } : {}) }));
      } catch (err) {
        throw listenError(err, options.host, options.port);
      }
      // Only a made-up token is printed: one the user gave stays out of logs, which more people read than should hold it.
      const access = {
        ...(madeUp ? { madeUpToken: token } : {}),
        ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
        ...(tls ? { fingerprint: tls.fingerprint } : {}),
      };
      const addresses = reachableAddresses(options.host);
      const commands = addresses.map((address) => workerCommand(address, port, access));
      const where = { host: options.host, port, minWorkers: options.minWorkers };
      log.announce('listening', { ...where, tls: Boolean(tls), addresses, workerCommands: commands }, listeningBanner({ ...where, addresses, access }));
      if (options.dashboard) {
        const dashboard = httpUrl(addresses[0] ?? options.host, port, Boolean(tls));
        log.announce('dashboard', { url: dashboard }, `dashboard: ${dashboard}`);
      }
    }
    const result = await coordinator.train();
    progress.stop();
    const again = `adamant coordinator${run.configPath ? ` ${run.configPath}` : ''} --port ${options.port}${tls ? ` --tls-cert ${options.tlsCert} --tls-key ${options.tlsKey}` : ''}`;
    await finishTraining(run, result, options, coordinator.workerCount, again);
  } finally {
    progress.stop();
    uninstall();
    await coordinator.close();
    if (tls) await closeServer(tls.server);
  }
}
