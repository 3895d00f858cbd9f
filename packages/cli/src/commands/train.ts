import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerEvent } from '@adamant/coordinator';
import { ConnectError, type GemmEngineName, type Log } from '@adamant/core';
import { loadGemmEngine, usesFusedPath } from '@adamant/worker';
import { warnOfIdleWorkers } from '../idleWorkers.js';
import { createLog, type LogLevel } from '../logger.js';
import { ensureWritableDir } from '../systemErrors.js';
import { stderrArea } from '../terminal.js';
import { withoutWorkerEnv } from '../workerEnv.js';
import { finishTraining, prepareCoordinator, type PreparedRun, stopOnSignals, type TrainingOptions } from './shared.js';

export interface TrainCommandOptions extends TrainingOptions {
  workers: number;
  heartbeat: number;
  logLevel: LogLevel;
  logJson?: boolean;
  quiet?: boolean;
  progressEvery?: number;
}

const cliEntry = fileURLToPath(new URL('../bin.js', import.meta.url));

interface LocalWorker {
  child: ChildProcess;
  /** The coordinator's id for it, once it joined: the number its own log lines carry. */
  id?: number;
  lastError?: string;
  exitCode?: number | null;
}

/** How messages name a local worker: by the coordinator's id once it joined, by its pid before. */
function nameOf(worker: LocalWorker): string {
  return worker.id !== undefined ? `worker ${worker.id}` : `worker process ${worker.child.pid}`;
}

/** The pid in a worker's hello name ("host:pid (address:port)"): how a joined worker is matched to the process started for it. */
function pidOf(event: WorkerEvent): number | undefined {
  const pid = /:(\d+) \(/.exec(event.name)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/**
 * A worker's line of stderr as this process passes it on: the message of its final error line
 * (`adamant: … [E_CODE]`, or with --log-json the JSON line marked `fatal`) is kept for our own
 * error instead. With --log-json, anything that is not a JSON line (a library's stray output) is
 * wrapped in one, so that stderr stays JSON lines.
 */
function readWorkerLine(line: string, worker: LocalWorker, json: boolean): { fatal: string } | { pass: string } {
  if (!json) return line.startsWith('adamant: ') ? { fatal: line.slice('adamant: '.length).replace(/ \[E_[A-Z]+\]$/, '') } : { pass: line };
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record && typeof record === 'object' && !Array.isArray(record)) return record.fatal === true ? { fatal: String(record.msg) } : { pass: line };
  } catch {
    // Not JSON: wrapped below.
  }
  const who = { role: 'worker', ...(worker.id !== undefined ? { worker: worker.id } : {}) };
  return { pass: JSON.stringify({ level: 40, time: Date.now(), pid: worker.child.pid, ...who, msg: line }) };
}

/**
 * The engine the local workers compute with, when the job takes the fused path: resolved here,
 * once, so that `auto` falling back to wasm is said in one line (not once per worker), and a
 * missing OpenBLAS with `--gemm openblas` fails before any worker starts.
 */
function localGemm(run: PreparedRun, choice: TrainCommandOptions['gemm'], log: Log): GemmEngineName | undefined {
  const { config, layers } = run.coordinator;
  if (!usesFusedPath({ layers, loss: config.loss, metrics: config.metrics })) return undefined;
  return loadGemmEngine(choice ?? 'auto', { onFallback: (line) => log.warn(line) }).name;
}

/**
 * `adamant train`: the local simulation. A coordinator in this process and N worker processes
 * (`adamant worker`) on loopback, exactly the multi-machine path with every host on this one.
 * Workers are started with --reconnect-timeout 0: they end with this process, and when it is
 * killed outright they notice within the heartbeat and exit.
 */
export async function trainCommand(configPath: string | undefined, options: TrainCommandOptions): Promise<void> {
  const json = options.logJson === true;
  const log = createLog(options.logLevel, json, 'coordinator');
  const token = randomBytes(16).toString('hex');
  const run = await prepareCoordinator(configPath, { ...options, token, minWorkers: options.workers, heartbeatMs: options.heartbeat * 1000 }, log);
  const { coordinator, progress } = run;
  ensureWritableDir(run.out);
  progress.describeJob(coordinator.config);
  progress.onWorkerEvent(warnOfIdleWorkers(coordinator.config, log));
  const workers: LocalWorker[] = [];
  progress.onWorkerEvent((e) => {
    const worker = e.kind === 'joined' ? workers.find((w) => w.child.pid === pidOf(e)) : undefined;
    if (worker) worker.id = e.workerId;
  });
  let finished = false;
  const killWorkers = () => {
    for (const w of workers) if (w.exitCode === undefined) w.child.kill('SIGKILL');
  };
  const uninstall = stopOnSignals(run, log, killWorkers);
  try {
    if (coordinator.config.epochs > 0) {
      const { url } = await coordinator.listen({ host: '127.0.0.1', port: 0 });
      if (options.dashboard) {
        const dashboard = `${url.replace(/^ws/, 'http')}/`;
        log.announce('dashboard', { url: dashboard }, `dashboard: ${dashboard}`);
      }
      const gemm = localGemm(run, options.gemm, log);
      for (let n = 0; n < options.workers; n++) {
        const args = [cliEntry, 'worker', '--connect', url, '--connect-timeout', '10', '--reconnect-timeout', '0', '--log-level', options.logLevel];
        if (options.backend) args.push('--backend', options.backend);
        if (gemm) args.push('--gemm', gemm);
        if (json) args.push('--log-json');
        const child = spawn(process.execPath, args, {
          // Their own process group: a Ctrl-C in the terminal reaches this process alone, which then stops them in order.
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe'],
          // Our flags, not the worker variables of this shell, configure them.
          env: { ...withoutWorkerEnv(process.env), ADAMANT_TOKEN: token },
        });
        const worker: LocalWorker = { child };
        workers.push(worker);
        createInterface({ input: child.stderr! }).on('line', (line) => {
          // A worker's fatal error becomes part of ours (one line); its other output passes through.
          const read = readWorkerLine(line, worker, json);
          if ('fatal' in read) worker.lastError = read.fatal;
          else stderrArea.print(process.stderr, `${read.pass}\n`);
        });
        // 'close', not 'exit': it comes after the child's stderr has been read to the end.
        child.on('close', (code, signal) => {
          worker.exitCode = code;
          if (finished) return;
          const why = worker.lastError ? `: ${worker.lastError}` : ` with ${signal ?? `code ${code}`}`;
          if (!coordinator.started) {
            // Training waits for all N workers; one that died before joining would stall it forever.
            coordinator.abort(new ConnectError(`${nameOf(worker)} exited before training started (it waits for all ${options.workers})${why}`));
          } else if (workers.every((w) => w.exitCode !== undefined)) {
            coordinator.abort(new ConnectError(`all ${workers.length} worker processes exited before training finished; ${nameOf(worker)} exited${why}`));
          } else {
            log.warn(`${nameOf(worker)} exited${why}; its chunks go to the others`);
          }
        });
      }
    }
    const result = await coordinator.train();
    finished = true;
    progress.stop();
    const again = `adamant train${run.configPath ? ` ${run.configPath}` : ''} --workers ${options.workers}`;
    // The workers this run started: none with --epochs 0.
    await finishTraining(run, result, options, workers.length, again);
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
