import path from 'node:path';
import { Coordinator, type TrainingResult, type WorkerEvent } from '@adamant/coordinator';
import { loadJobConfig, loadModel, savedTokenizer, type BackendName, type Log } from '@adamant/core';
import { TrainingProgress } from '../progress.js';

export interface TrainingOptions {
  epochs?: number;
  backend?: BackendName;
  init?: string;
  out?: string;
  json?: boolean;
}

/** Where a run's model goes when `--out` is not given: runs/<config name>-<time>. */
export function defaultOutDir(configPath: string): string {
  const base = path.basename(configPath, path.extname(configPath));
  const name = base === 'job' ? path.basename(path.dirname(path.resolve(configPath))) : base;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `${name}-${stamp}`);
}

/** Loads the config, applies command-line overrides, and builds the coordinator with its progress display. */
export async function prepareCoordinator(
  configPath: string,
  options: TrainingOptions & { token?: string; minWorkers?: number; workerTimeoutMs?: number; heartbeatMs?: number },
  log: Log,
  onWorker?: (e: WorkerEvent) => void,
): Promise<{ coordinator: Coordinator; progress: TrainingProgress }> {
  const config = loadJobConfig(configPath);
  if (options.epochs !== undefined) config.epochs = options.epochs;
  if (options.backend !== undefined) config.backend = options.backend;
  const progress = new TrainingProgress(options.json === true);
  const initTokenizer = options.init && config.data.type === 'text' ? savedTokenizer(options.init) : undefined;
  const coordinator = await Coordinator.create({
    ...(initTokenizer ? { tokenizer: initTokenizer } : {}),
    config,
    source: configPath,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.minWorkers !== undefined ? { minWorkers: options.minWorkers } : {}),
    ...(options.workerTimeoutMs !== undefined ? { workerTimeoutMs: options.workerTimeoutMs } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    log,
    onWorker: (e) => {
      progress.worker(e);
      onWorker?.(e);
    },
    onStep: progress.step,
    onEpoch: progress.epoch,
    onValidate: progress.validate,
  });
  const bad = coordinator.data.badRows;
  if (bad) log.warn(`skipped ${bad.count} bad rows of ${config.data.path}`, { first: bad.examples[0] });
  if (options.init) {
    const initial = await loadModel(options.init);
    coordinator.layout.assertMatches(initial, options.init);
    coordinator.setWeights(coordinator.layout.read(initial), options.init);
    initial.dispose();
  }
  return { coordinator, progress };
}

/** The machine-readable summary printed as the last line of stdout with `--json`. */
export function resultJson(coordinator: Coordinator, result: TrainingResult, workers: number, out: string | undefined): Record<string, unknown> {
  const final = result.final;
  return {
    loss: final?.loss ?? null,
    metrics: final?.metrics ?? {},
    valLoss: final?.valLoss ?? null,
    valMetrics: final?.valMetrics ?? {},
    epochs: result.epochs,
    steps: result.steps,
    samples: result.samples,
    seconds: Number(result.seconds.toFixed(3)),
    /** Time inside the epochs' steps: no start-up, no waiting for workers, no validation. */
    trainingSeconds: Number(result.history.reduce((t, e) => t + e.seconds, 0).toFixed(3)),
    workers,
    backend: result.backend,
    workerBackends: result.workerBackends,
    skippedRows: coordinator.data.badRows?.count ?? 0,
    out: out ?? null,
  };
}

/** Saves the model and prints the outcome (one JSON line with --json, a sentence otherwise). */
export async function finishTraining(
  coordinator: Coordinator,
  result: TrainingResult,
  options: TrainingOptions,
  out: string,
  workers: number,
): Promise<void> {
  await coordinator.save(out, resultJson(coordinator, result, workers, out));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(resultJson(coordinator, result, workers, out))}\n`);
  } else {
    const rate = result.seconds > 0 ? ` (${Math.round(result.samples / result.seconds)} samples/s)` : '';
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    process.stdout.write(`trained ${plural(result.epochs, 'epoch')}, ${plural(result.steps, 'step')} in ${result.seconds.toFixed(1)} s${rate}; model saved to ${out}\n`);
  }
}
