import type * as tf from '@tensorflow/tfjs';
import {
  buildModel,
  CheckpointError,
  embeddingTable,
  jobIdOf,
  NumericError,
  writeCheckpoint,
  ParamLayout,
  prepareData,
  resolveInputShape,
  sampleShape,
  saveModel,
  silentLog,
  useBackend,
  type AdamantError,
  type Checkpoint,
  type JobConfig,
  type LayerSpec,
  type Log,
  type PreparedData,
  type ResolvedBackend,
  type WorkerJob,
} from '@adamant/core';
import { checkSameJob } from './checkSameJob.js';
import { RunMonitor } from './monitor/RunMonitor.js';
import type { CoordinatorOptions } from './options.js';
import { ParameterServer } from './ParameterServer.js';
import type { EpochReport, TrainingResult } from './reports.js';
import { RunFiles } from './RunFiles.js';
import { TrainingLoop } from './TrainingLoop.js';
import { Validation } from './Validation.js';
import { WorkerRoster } from './WorkerRoster.js';
import { WorkerServer, type ListenAddress, type ListenTarget, type WorkerSession } from './WorkerServer.js';

/**
 * The coordinator of one job: the parameter server and the job's life. It loads and splits the
 * data, builds the model, listens for workers, and trains: every global batch is cut into fixed
 * chunks that the ready workers compute, the chunk gradients are summed in chunk order, and the
 * optimizer updates the one flat weight vector. A worker that leaves mid-step has its chunks
 * handed to the others: no sample is lost or counted twice.
 *
 * A facade over its parts: `WorkerServer` (sockets, handshake, heartbeat), `TrainingLoop` (epochs,
 * step rounds, validation, the worker-timeout clock) and `ParameterServer` (weights, optimizer,
 * reducer). Started by `adamant coordinator` (multi-machine) or inside `adamant train` (local
 * processes): `create()`, then `listen()`, then `train()`, then `save()` and `close()`.
 */
export class Coordinator {
  readonly parameters: ParameterServer;
  private readonly log: Log;
  private readonly workers: WorkerServer;
  /** The ready workers as training sees them: less the dropped ones, never a quarantined one. */
  private readonly roster: WorkerRoster;
  private readonly loop: TrainingLoop;
  private readonly validation: Validation | undefined;
  /** The job's identity: a digest of its mathematical config and its data. */
  readonly jobId: string;
  /** What the HTTP routes on the workers' port show (metrics, health, the dashboard); it only watches. */
  private readonly monitor: RunMonitor;
  private lastCheckpoint: string | undefined;
  private runFiles: RunFiles | undefined;

  private constructor(
    private readonly options: CoordinatorOptions,
    readonly backend: ResolvedBackend,
    readonly data: PreparedData,
    readonly layers: LayerSpec[],
    private readonly model: tf.Sequential,
    readonly layout: ParamLayout,
  ) {
    const { config } = options;
    this.log = options.log ?? silentLog;
    this.jobId = jobIdOf(config, data);
    this.parameters = new ParameterServer(layout, embeddingTable(layers), config.optimizer, layout.read(model));
    const job: WorkerJob = {
      layers,
      loss: config.loss,
      metrics: config.metrics,
      backend: config.backend,
      seed: config.seed,
      inputShape: sampleShape(layers, data.train.featureCount),
      paramCount: layout.size,
      ...(options.gemm ? { gemm: options.gemm } : {}),
    };
    this.monitor = new RunMonitor({
      config,
      jobId: this.jobId,
      minWorkers: options.minWorkers ?? 1,
      dashboard: options.dashboard === true,
      metrics: options.metrics !== false,
      quarantined: () => this.loop.verificationCounts?.quarantined ?? [],
      lastCheckpoint: () => this.lastCheckpoint,
    });
    this.workers = new WorkerServer({
      job,
      jobId: this.jobId,
      observer: this.monitor,
      routes: this.monitor.routes,
      ...(options.token !== undefined ? { token: options.token } : {}),
      heartbeatMs: options.heartbeatMs ?? 60_000,
      // A chunk result is the gradient (4 bytes per parameter) plus a few hundred bytes of header.
      maxPayload: layout.size * 4 + (1 << 20),
      log: this.log,
      handlers: {
        joined: (session) => this.workerJoined(session),
        left: (session, reason, wasReady) => this.workerLeft(session, reason, wasReady),
        chunk: (session, message) => this.loop.chunkResult(session, message),
        fatal: (error) => this.abort(error),
      },
    });
    this.roster = new WorkerRoster(this.workers);
    this.validation = data.validation.rows > 0 ? new Validation(data.validation, config) : undefined;
    this.loop = new TrainingLoop({
      config,
      data,
      server: this.parameters,
      workers: this.roster,
      ...(this.validation ? { validation: this.validation } : {}),
      minWorkers: options.minWorkers ?? 1,
      ...(options.statusEveryMs !== undefined ? { statusEveryMs: options.statusEveryMs } : {}),
      duplicateStragglers: options.duplicateStragglers ?? true,
      ...(options.workerTimeoutMs !== undefined ? { workerTimeoutMs: options.workerTimeoutMs } : {}),
      ...(options.chunkTimeoutMs !== undefined ? { chunkTimeoutMs: options.chunkTimeoutMs } : {}),
      ...(options.verify !== undefined ? { verify: options.verify } : {}),
      ...(options.maxChunkGradNorm !== undefined ? { maxChunkGradNorm: options.maxChunkGradNorm } : {}),
      log: this.log,
      onStep: (report) => {
        this.monitor.step(report);
        options.onStep?.(report);
      },
      onEpoch: (report) => {
        this.monitor.epoch(report);
        options.onEpoch?.(report);
      },
      afterEpoch: async (event) => this.runFiles?.epochEnded(event),
      ...(options.onValidate ? { onValidate: options.onValidate } : {}),
      ...(options.checkpoints ? { onCheckpoint: () => this.checkpoint(), checkpointEvery: options.checkpoints.everySteps ?? 0 } : {}),
    });
    if (options.resume) this.resumeFrom(options.resume);
  }

  /** Loads the data, picks the backend and builds the model; nothing listens yet. */
  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const { config, source, resume } = options;
    const tokenizer = resume ? resume.preparation.tokenizer : options.tokenizer;
    const normalization = resume ? resume.preparation.normalization : options.normalization;
    // A checkpoint keeps no label set: a resumed job reads the same data, so the same set (or --init's).
    const labels = options.labels;
    const data = prepareData(config, { ...(tokenizer ? { tokenizer } : {}), ...(normalization ? { normalization } : {}), ...(labels ? { labels } : {}) });
    const layers = resolveInputShape(config.model, data.train.featureCount, source);
    // The coordinator only builds the model (to save it; the workers validate), which every backend can do.
    const backend = await useBackend(config.backend);
    const model = buildModel(layers, config.seed);
    return new Coordinator(options, backend, data, layers, model, ParamLayout.fromModel(model));
  }

  get config(): JobConfig {
    return this.options.config;
  }

  /** Replaces the weights before training (e.g. from `--init`); checked for size and finiteness. */
  setWeights(weights: Float32Array, source: string): void {
    this.parameters.setWeights(weights, source);
  }

  /**
   * Keeps the run's files in `dir` as training goes: history.csv and history.json after every
   * epoch, and the best epoch's model in `dir/best/` whenever the monitored value improves.
   */
  writeRunFiles(dir: string): void {
    this.runFiles = new RunFiles(dir, (target, summary) => this.save(target, summary));
  }

  /** Whether the first step has begun (enough workers joined). */
  get started(): boolean {
    return this.loop.started;
  }

  get workerCount(): number {
    return this.roster.ready.length;
  }

  /**
   * Starts accepting workers on a host and port (default 127.0.0.1, a free port), or on an
   * existing http/https server. Resolves with the bound address.
   */
  listen(target: ListenTarget = {}): Promise<ListenAddress> {
    return this.workers.listen(target);
  }

  /** Stops training with `error` (train() rejects with it); e.g. when every local worker process died. */
  abort(error: AdamantError): void {
    this.loop.abort(error);
  }

  /**
   * Runs the job's epochs, or until `stop()` or early stopping; resolves with what was trained. A
   * stopped run has written a checkpoint and told its workers; an early-stopped one ends as a
   * finished one does (its workers are told "done").
   */
  async train(): Promise<TrainingResult> {
    const started = performance.now();
    const samplesBefore = this.loop.samples;
    const trainingSecondsBefore = this.loop.trainingSeconds;
    let outcome: Awaited<ReturnType<TrainingLoop['run']>>;
    try {
      outcome = await this.loop.run();
    } catch (err) {
      throw err instanceof NumericError ? this.stopOnNumericError(err) : err;
    }
    const stopped = outcome === 'stopped' ? this.loop.stopRequested : undefined;
    if (stopped !== undefined) {
      if (this.options.checkpoints) this.checkpoint();
      this.workers.stop(stopped);
    } else {
      this.workers.finish();
    }
    const { history, position, monitors } = this.loop;
    const best = monitors.bestEpoch;
    return {
      epochs: this.config.epochs,
      steps: position.step,
      samples: this.loop.samples - samplesBefore,
      seconds: (performance.now() - started) / 1000,
      trainingSeconds: this.loop.trainingSeconds - trainingSecondsBefore,
      backend: this.backend,
      workerBackends: this.workers.backends,
      ...(history.length ? { final: history.at(-1)! } : {}),
      history: [...history],
      position: { ...position },
      ...(stopped !== undefined ? { stopped } : {}),
      ...(outcome === 'stopped early' ? { earlyStopping: monitors.earlyStop! } : {}),
      ...(best ? { best } : {}),
      ...(this.lastCheckpoint ? { checkpoint: this.lastCheckpoint } : {}),
      ...(this.loop.verificationCounts ? { verification: this.loop.verificationCounts } : {}),
    };
  }

  /** E_NUMERIC: nothing non-finite was kept, so the state is the last good one: checkpointed, and the workers told to stop. */
  private stopOnNumericError(error: NumericError): NumericError {
    let saved = '';
    if (this.options.checkpoints) {
      try {
        saved = `; the last good state is saved in ${this.checkpoint()}`;
      } catch (err) {
        this.log.error('could not write a checkpoint of the last good state', { error: (err as Error).message });
      }
    }
    this.workers.stop('numeric error (E_NUMERIC); see the coordinator');
    return saved ? new NumericError(`${error.message}${saved}`) : error;
  }

  /**
   * Asks training to stop (a signal): the step in progress is abandoned, a checkpoint is written,
   * the workers are told, and train() resolves with `stopped` set.
   */
  stop(reason: string): void {
    this.loop.requestStop(reason);
  }

  /** Writes a checkpoint of the whole state now (see CheckpointPolicy); returns its file. */
  checkpoint(): string {
    const policy = this.options.checkpoints;
    if (!policy) throw new CheckpointError('this coordinator has no checkpoint folder');
    const { weights, optimizer } = this.parameters.snapshot();
    const state = this.loop.state();
    const file = writeCheckpoint(
      policy.dir,
      {
        jobId: this.jobId,
        position: state.position,
        epochTotals: state.epochTotals,
        config: this.options.config,
        preparation: { normalization: this.data.normalization ?? null, tokenizer: this.data.tokenizer ?? null },
        history: state.history as unknown as Record<string, unknown>[],
        weights,
        optimizer,
        ...(state.monitoring ? { monitoring: state.monitoring } : {}),
      },
      policy.keep ?? 3,
    );
    this.lastCheckpoint = file;
    this.log.info('checkpoint written', { file, epoch: state.position.epoch, batch: state.position.batch, step: state.position.step });
    return file;
  }

  private resumeFrom(checkpoint: Checkpoint): void {
    checkSameJob(checkpoint, this.jobId, this.config);
    this.parameters.restore({ weights: checkpoint.weights, optimizer: checkpoint.optimizer });
    const { position, epochTotals, monitoring } = checkpoint;
    this.loop.restore({ position, epochTotals, history: checkpoint.history as unknown as EpochReport[], ...(monitoring ? { monitoring } : {}) });
    this.log.info('resuming', { epoch: checkpoint.position.epoch + 1, batch: checkpoint.position.batch + 1, step: checkpoint.position.step });
  }

  /** Saves the current weights as a tfjs layers model, with Adamant's metadata beside it. */
  async save(dir: string, summary?: unknown): Promise<void> {
    this.layout.write(this.model, this.parameters.params);
    const { config } = this.options;
    await saveModel(this.model, dir, {
      adamant: 1,
      config: { ...config, model: this.layers },
      featureNames: this.data.featureNames,
      normalization: this.data.normalization ?? null,
      tokenizer: this.data.tokenizer ?? null,
      labels: this.data.labels ?? null,
      summary: summary ?? null,
    });
  }

  /** Stops listening and disconnects every worker. */
  async close(): Promise<void> {
    this.loop.stop();
    await this.workers.close();
    this.model.dispose();
  }

  private workerJoined(session: WorkerSession): void {
    if (!this.roster.admit(session)) {
      this.log.warn('refusing a quarantined worker', { worker: session.name });
      return;
    }
    this.options.onWorker?.({ kind: 'joined', workerId: session.id, name: session.name, ...(session.backend ? { backend: session.backend } : {}), workers: this.workerCount });
    this.loop.workerJoined();
  }

  private workerLeft(session: WorkerSession, reason: string, wasReady: boolean): void {
    const reassigned = this.loop.workerLeft(session);
    this.monitor.reassigned(session, reassigned);
    if (!wasReady || this.roster.wasRefused(session)) return;
    this.log.info('worker left', { worker: session.name, id: session.id, reason, reassigned });
    this.options.onWorker?.({ kind: 'left', workerId: session.id, name: session.name, reason, workers: this.workerCount });
  }
}
