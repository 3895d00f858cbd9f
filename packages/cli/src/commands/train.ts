import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConnectError } from '@adamant/core';
import { createLog, type LogLevel } from '../logger.js';
import { finishTraining, prepareCoordinator, stopOnSignals, type TrainingOptions } from './shared.js';

export interface TrainCommandOptions extends TrainingOptions {
  workers: number;
  heartbeat: number;
  logLevel: LogLevel;
  logJson?: boolean;
}

const cliEntry = fileURLToPath(new URL('../bin.js', import.meta.url));

interface LocalWorker {
  index: number;
  child: ChildProcess;
  lastError?: string;
  exitCode?: number | null;
}

/**
 * `adamant train`: the local simulation. A coordinator in this process and N worker processes
 * (`adamant worker`) on loopback, exactly the multi-machine path with every host on this one.
 * Workers are started with --reconnect-timeout 0: they end with this process, and when it is
 * killed outright they notice within the heartbeat and exit.
 */
export async function trainCommand(configPath: string | undefined, options: TrainCommandOptions): Promise<void> {
  const log = createLog(options.logLevel, options.logJson === true);
  const token = randomBytes(16).toString('hex');
  const run = await prepareCoordinator(configPath, { ...options, token, minWorkers: options.workers, heartbeatMs: options.heartbeat * 1000 }, log);
  const { coordinator, progress } = run;
  const workers: LocalWorker[] = [];
  let finished = false;
  const killWorkers = () => {
    for (const w of workers) if (w.exitCode === undefined) w.child.kill('SIGKILL');
  };
  const uninstall = stopOnSignals(run, log, killWorkers);
  try {
    if (coordinator.config.epochs > 0) {
      const { url } = await coordinator.listen({ host: '127.0.0.1', port: 0 });
      for (let index = 1; index <= options.workers; index++) {
        const args = [cliEntry, 'worker', '--connect', url, '--connect-timeout', '10', '--reconnect-timeout', '0', '--log-level', options.logLevel];
        if (options.backend) args.push('--backend', options.backend);
        if (options.logJson) args.push('--log-json');
        const child = spawn(process.execPath, args, {
          // Their own process group: a Ctrl-C in the terminal reaches this process alone, which then stops them in order.
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, ADAMANT_TOKEN: token, ADAMANT_LOG_PREFIX: `worker ${index} ` },
        });
        const worker: LocalWorker = { index, child };
        workers.push(worker);
        createInterface({ input: child.stderr! }).on('line', (line) => {
          // A worker's fatal error becomes part of ours (one line); its other output passes through.
          if (line.startsWith('adamant: ')) worker.lastError = line.slice('adamant: '.length).replace(/ \[E_[A-Z]+\]$/, '');
          else process.stderr.write(`${line}\n`);
        });
        // 'close', not 'exit': it comes after the child's stderr has been read to the end.
        child.on('close', (code, signal) => {
          worker.exitCode = code;
          if (finished) return;
          const why = worker.lastError ? `: ${worker.lastError}` : ` with ${signal ?? `code ${code}`}`;
          if (!coordinator.started) {
            // Training waits for all N workers; one that died before joining would stall it forever.
            coordinator.abort(new ConnectError(`worker ${index} of ${workers.length} exited before training started${why}`));
          } else if (workers.every((w) => w.exitCode !== undefined)) {
            coordinator.abort(new ConnectError(`all ${workers.length} worker processes exited before training finished; worker ${index} exited${why}`));
          } else {
            log.warn(`worker ${index} exited${why}; its chunks go to the others`);
          }
        });
      }
    }
    const result = await coordinator.train();
    finished = true;
    progress.stop();
    const again = `adamant train${run.configPath ? ` ${run.configPath}` : ''} --workers ${options.workers}`;
    await finishTraining(run, result, options, options.workers, again);
  } finally {
    finished = true;
    progress.stop();
    await coordinator.close();
    // Workers exit by themselves on "done", "stop" or when the coordinator closes; make sure none lingers.
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== undefined) return resolve();
            const timer = setTimeout(() => w.child.kill('SIGKILL'), 5000);
            w.child.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    uninstall();
  }
}
