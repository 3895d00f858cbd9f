import path from 'node:path';
import { BEST_MODEL_DIR, Coordinator, historyRow, type TrainingResult } from '@adamant/coordinator';
import {
  autodiffSlowdown,
  ConfigError,
  fusedSupport,
  loadJobConfig,
  loadModel,
  loadNewestCheckpoint,
  savedLabels,
  savedNormalization,
  savedTokenizer,
  type BackendName,
  type JobConfig,
  type LayerSpec,
  type Log,
} from '@adamant/core';
import { ExitCode } from '../errors.js';
import { TrainingProgress } from '../progress.js';

export interface TrainingOptions {
  epochs?: number;
  backend?: BackendName;
  init?: string;
  out?: string;
  json?: boolean;
  resume?: string;
  checkpointEvery?: number;
  keepCheckpoints?: number;
  statusEvery?: number;
  duplicateStragglers?: boolean;
  /** Seconds; unset: derived from measured chunk times. */
  chunkTimeout?: number;
  verify?: number;
  maxChunkGradNorm?: number;
  /** Serve the live dashboard on the coordinator's port. */
  dashboard?: boolean;
  /** false: no /metrics (--no-metrics). */
  metrics?: boolean;
  /** The GEMM engine the job asks of workers without their own --gemm (fused path only). */
  gemm?: import('@adamant/core').GemmChoice;
}

/** Where a run's model goes when `--out` is not given: runs/<config name>-<time>. */
export function defaultOutDir(configPath: string): string {
  const base = path.basename(configPath, path.extname(configPath));
  const name = base === 'job' ? path.basename(path.dirname(path.resolve(configPath))) : base;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `${name}-${stamp}`);
}

/** A prepared run: the coordinator, its progress display, where it saves, and what it continues. */
export interface PreparedRun {
  coordinator: Coordinator;
  progress: TrainingProgress;
  /** The run directory: the model, and checkpoints/ inside it. */
  out: string;
  /** The config file, or the checkpoint a resumed run took its config from: for the resume hint. */
  configPath: string | undefined;
}

/**
 * Loads the config (or, with --resume and no config, the checkpoint's), applies command-line
 * overrides, and builds the coordinator with its progress display and checkpoint policy.
 */
export async function prepareCoordinator(
  configPath: string | undefined,
  options: TrainingOptions & { token?: string; minWorkers?: number; workerTimeoutMs?: number; heartbeatMs?: number },
  log: Log,
): Promise<PreparedRun> {
  const resumed = options.resume ? loadNewestCheckpoint(options.resume) : undefined;
  for (const { file, reason } of resumed?.skipped ?? []) log.warn(`skipping checkpoint ${file}: ${reason}`);
  if (resumed) log.info('resuming from checkpoint', { file: resumed.file });
  if (!configPath && !resumed) throw new ConfigError('a job config is required (or --resume DIR to continue a run)');
  const config = configPath ? loadJobConfig(configPath) : structuredClone(resumed!.checkpoint.config);
  if (options.epochs !== undefined) config.epochs = options.epochs;
  if (options.backend !== undefined) config.backend = options.backend;
  const out = options.out ?? resumed?.runDir ?? defaultOutDir(configPath!);
  const progress = new TrainingProgress(options, log);
  const initTokenizer = options.init && config.data.type === 'text' ? savedTokenizer(options.init) : undefined;
  const initNormalization = options.init && config.data.type === 'table' ? savedNormalization(options.init) : undefined;
  const initLabels = options.init ? savedLabels(options.init) : undefined;
  const coordinator = await Coordinator.create({
    ...(initLabels ? { labels: initLabels } : {}),
    ...(initTokenizer ? { tokenizer: initTokenizer } : {}),
    ...(initNormalization ? { normalization: initNormalization } : {}),
    ...(resumed ? { resume: resumed.checkpoint } : {}),
    config,
    source: configPath ?? resumed!.file,
    checkpoints: { dir: path.join(out, 'checkpoints'), everySteps: options.checkpointEvery ?? 0, keep: options.keepCheckpoints ?? 3 },
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.minWorkers !== undefined ? { minWorkers: options.minWorkers } : {}),
    ...(options.workerTimeoutMs !== undefined ? { workerTimeoutMs: options.workerTimeoutMs } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.statusEvery !== undefined ? { statusEveryMs: options.statusEvery * 1000 } : {}),
    ...(options.duplicateStragglers !== undefined ? { duplicateStragglers: options.duplicateStragglers } : {}),
    ...(options.chunkTimeout !== undefined ? { chunkTimeoutMs: options.chunkTimeout * 1000 } : {}),
    ...(options.verify ? { verify: options.verify } : {}),
    ...(options.maxChunkGradNorm !== undefined ? { maxChunkGradNorm: options.maxChunkGradNorm } : {}),
    ...(options.dashboard ? { dashboard: true } : {}),
    ...(options.metrics === false ? { metrics: false } : {}),
    ...(options.gemm ? { gemm: options.gemm } : {}),
    log,
    onWorker: progress.worker,
    onStep: progress.step,
    onEpoch: progress.epoch,
    onValidate: progress.validate,
  });
  coordinator.writeRunFiles(out);
  const bad = coordinator.data.badRows;
  if (bad) {
    const files = config.validationData ? `${config.data.path} and ${config.validationData.path}` : config.data.path;
    log.warn(`skipped ${bad.count} bad rows of ${files}`, { first: bad.examples[0] });
  }
  warnIfSlowPath(coordinator.layers, config, log);
  if (options.init && !resumed) {
    const initial = await loadModel(options.init);
    coordinator.layout.assertMatches(initial, options.init);
    coordinator.setWeights(coordinator.layout.read(initial), options.init);
    initial.dispose();
  }
  return { coordinator, progress, out, configPath };
}

/**
 * Says, before training, when a model with an embedding or recurrent layer cannot take the
 * workers' fused path: which layer or setting forces tfjs autodiff, and what that costs. Dense-only
 * models train on autodiff by design, so nothing is said for them.
 */
function warnIfSlowPath(layers: readonly LayerSpec[], config: JobConfig, log: Log): void {
  const support = fusedSupport(layers, config.loss, config.metrics);
  const wantsFused = layers.some((layer) => layer.type !== 'dense' && layer.type !== 'dropout');
  if (support.ok || !wantsFused) return;
  log.warn(`${support.reason}: workers train this model with tfjs autodiff, ${autodiffSlowdown(layers)}`);
}

/**
 * SIGINT and SIGTERM: the first asks the coordinator to stop (abandon the step, checkpoint, tell
 * the workers) and restores the terminal; a second one exits at once. Returns the uninstaller.
 */
export function stopOnSignals(run: PreparedRun, log: Log, beforeExit: () => void = () => {}): () => void {
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      beforeExit();
      process.exit(exitCodeOf(signal));
    }
    received = signal;
    run.progress.stop();
    log.warn(`${signal}: stopping after writing a checkpoint (again to exit at once)`);
    run.coordinator.stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** 128 + the signal number, as shells report a process ended by it. */
export function exitCodeOf(signal: string): number {
  return signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
}

/** Why early stopping ended a run, in words: "val_loss did not improve for 3 epochs". */
function earlyStopReason(stop: NonNullable<TrainingResult['earlyStopping']>): string {
  return `${stop.monitor} did not improve for ${stop.wait} epoch${stop.wait === 1 ? '' : 's'}`;
}

/** The machine-readable summary printed as the last line of stdout with `--json`. */
export function resultJson(coordinator: Coordinator, result: TrainingResult, workers: number, out: string | undefined): Record<string, unknown> {
  const final = result.final;
  const stop = result.earlyStopping;
  return {
    loss: final?.loss ?? null,
    metrics: final?.metrics ?? {},
    valLoss: final?.valLoss ?? null,
    valMetrics: final?.valMetrics ?? {},
    epochs: result.epochs,
    steps: result.steps,
    samples: result.samples,
    seconds: Number(result.seconds.toFixed(3)),
    /** This process's time inside the epochs' steps: no start-up, no waiting for workers, no validation. */
    trainingSeconds: Number(result.trainingSeconds.toFixed(3)),
    workers,
    backend: result.backend,
    workerBackends: result.workerBackends,
    skippedRows: coordinator.data.badRows?.count ?? 0,
    ...(result.verification ? { verification: result.verification } : {}),
    ...(stop ? { earlyStopping: { ...stop, reason: earlyStopReason(stop) } } : {}),
    best: result.best ? { ...result.best, dir: out ? path.join(out, BEST_MODEL_DIR) : null } : null,
    /** Every epoch, as history.json has it. */
    history: result.history.map(historyRow),
    out: out ?? null,
  };
}

/**
 * Saves the model and prints the outcome (one JSON line with --json, a sentence otherwise). A run
 * stopped by a signal saves no model: it says where its checkpoint is and how to resume, and sets
 * the exit status the signal calls for.
 */
export async function finishTraining(run: PreparedRun, result: TrainingResult, options: TrainingOptions, workers: number, resumeCommand: string): Promise<void> {
  const { coordinator, out } = run;
  const summary = { ...resultJson(coordinator, result, workers, out), ...(result.stopped ? { stopped: result.stopped, checkpoint: result.checkpoint ?? null } : {}) };
  if (result.stopped) {
    const where = `epoch ${result.position.epoch + 1}, batch ${result.position.batch + 1} (step ${result.position.step})`;
    const stopped = `adamant: stopped by ${result.stopped} at ${where}; checkpoint ${result.checkpoint ?? '(none)'}\n  resume with: ${resumeCommand} --resume ${out}\n`;
    run.progress.notice(stopped, { signal: result.stopped, step: result.position.step, checkpoint: result.checkpoint ?? null });
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exitCode = exitCodeOf(result.stopped);
    return;
  }
  await coordinator.save(out, summary);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    // Samples over the time spent training: not the start-up, the waits for workers or validation.
    const rate = result.trainingSeconds > 0 ? ` (${Math.round(result.samples / result.trainingSeconds)} samples/s)` : '';
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    const stop = result.earlyStopping;
    if (stop) {
      const restored = stop.restoredBestWeights ? '; its weights restored' : '';
      process.stdout.write(`stopped early after epoch ${stop.epoch} of ${result.epochs}: ${earlyStopReason(stop)} (best ${Number(stop.best.toPrecision(6))} at epoch ${stop.bestEpoch}${restored})\n`);
    }
    const epochs = stop ? stop.epoch : result.epochs;
    const best = result.best ? ` (best epoch ${result.best.epoch} in ${path.join(out, BEST_MODEL_DIR)})` : '';
    const on = result.workerBackends.length > 0 ? ` on ${result.workerBackends.join(', ')}` : '';
    process.stdout.write(`trained ${plural(epochs, 'epoch')}, ${plural(result.steps, 'step')} in ${result.seconds.toFixed(1)} s${rate}${on}; model saved to ${out}${best}\n`);
  }
}
