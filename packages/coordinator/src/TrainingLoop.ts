import {
  chunkSizeOf,
  epochOrder,
  meansOf,
  planEpoch,
  type AdamantError,
  type BatchPlan,
  type ChunkResult,
  type JobConfig,
  type Log,
  type PreparedData,
} from '@adamant/core';
import type { ParameterServer } from './ParameterServer.js';
import type { EpochReport, StepReport } from './reports.js';
import { ChunkLatency } from './ChunkLatency.js';
import { StepRound } from './StepRound.js';
import { stepMessage } from './stepMessage.js';
import type { Validation } from './Validation.js';
import { WorkerTimeoutClock } from './WorkerTimeoutClock.js';
import type { WorkerSession } from './WorkerServer.js';

/** Where training stands: the next step to run is batch `batch` of epoch `epoch`, global step `step`. */
export interface TrainingPosition {
  epoch: number;
  batch: number;
  step: number;
}

/** The sums of the epoch in progress (its report divides them at the end). */
export interface EpochTotals {
  lossSum: number;
  metricSums: number[];
  /** Training seconds spent in this epoch so far. */
  seconds: number;
}

/** The workers as the training loop sees them: who is ready, and how to reach them. */
export interface WorkerPool {
  readonly ready: WorkerSession[];
  send(session: WorkerSession, message: ReturnType<typeof stepMessage>): void;
}

/** What a checkpoint keeps of the loop: enough to continue as if it had never stopped. */
export interface TrainingLoopState {
  position: TrainingPosition;
  epochTotals: EpochTotals;
  history: EpochReport[];
}

/** How a run ended: every epoch done, or asked to stop (the position says where). */
export type RunOutcome = 'finished' | 'stopped';

/** Thrown into a waiting step round or wait when a stop is requested. */
class StopRequested extends Error {}

export interface TrainingLoopOptions {
  config: JobConfig;
  data: PreparedData;
  server: ParameterServer;
  workers: WorkerPool;
  validation?: Validation;
  minWorkers: number;
  /** See CoordinatorOptions.workerTimeoutMs. */
  workerTimeoutMs?: number;
  log: Log;
  onStep?: (report: StepReport) => void;
  onEpoch?: (report: EpochReport) => void;
  onValidate?: (event: { epoch: number; samples: number }) => void;
  /** Called after every epoch, and every `checkpointEvery` steps, with the loop's state final for that point. */
  onCheckpoint?: (reason: 'epoch' | 'steps') => void;
  /** Steps between mid-epoch checkpoints; 0 or unset: only at the end of each epoch. */
  checkpointEvery?: number;
  /** While training waits (for workers, or for a step's chunks), log what it waits for this often. Default 15 s. */
  statusEveryMs?: number;
  /** See CoordinatorOptions.duplicateStragglers. */
  duplicateStragglers: boolean;
}

/**
 * The job's epochs: waits for `minWorkers`, then runs one step round per global batch (the
 * parameter server updates after each), reports every step and epoch, and validates after each
 * epoch. Its position (epoch, batch, global step) and the running epoch sums are explicit values,
 * so a run can be reported, checkpointed and continued from them. Holds the --worker-timeout clock.
 */
export class TrainingLoop {
  position: TrainingPosition = { epoch: 0, batch: 0, step: 0 };
  readonly history: EpochReport[] = [];
  private totals: EpochTotals;
  private current: StepRound<WorkerSession> | undefined;
  private aborted: AdamantError | undefined;
  private readyWaiters: (() => void)[] = [];
  private readonly clock: WorkerTimeoutClock;
  private stopReason: string | undefined;
  private readonly latency = new ChunkLatency();
  /** Samples trained by this process (a continued run counts only its own). */
  samples = 0;
  started = false;

  constructor(private readonly options: TrainingLoopOptions) {
    this.clock = new WorkerTimeoutClock(options.workerTimeoutMs, (error) => this.abort(error));
    this.totals = this.freshTotals();
  }

  /** A worker became ready: wakes whoever waits for workers and gives it the orphaned chunks. */
  workerJoined(): void {
    this.clock.stop();
    for (const wake of this.readyWaiters.splice(0)) wake();
    this.current?.workerJoined();
  }

  /** A worker left: its chunks of the current step go to the others. Returns how many. */
  workerLeft(session: WorkerSession): number {
    return this.current?.workerLeft(session) ?? 0;
  }

  /** A chunk result; throws ProtocolError or NumericError as `StepRound.receive` does. */
  chunkResult(session: WorkerSession, message: ChunkResult): void {
    const receipt = this.current ? this.current.receive(session, message) : 'late';
    // A late answer for a step that has moved on, or for a chunk that went to another worker.
    if (receipt !== 'accepted') this.options.log.debug('ignoring unexpected chunk', { worker: session.name, step: message.step, index: message.index, receipt });
  }

  /** Stops training with `error` (run() rejects with it). */
  abort(error: AdamantError): void {
    this.clock.stop();
    this.aborted ??= error;
    this.current?.fail(error);
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** Its state for a checkpoint (copies). */
  state(): TrainingLoopState {
    return { position: { ...this.position }, epochTotals: { ...this.totals, metricSums: [...this.totals.metricSums] }, history: this.history.map((r) => ({ ...r })) };
  }

  /** Continues from a checkpoint's state: run() then starts at its position. */
  restore(state: TrainingLoopState): void {
    if (state.epochTotals.metricSums.length !== this.options.config.metrics.length) {
      throw new RangeError(`the checkpoint has ${state.epochTotals.metricSums.length} metric sums, the job has ${this.options.config.metrics.length} metrics`);
    }
    this.position = { ...state.position };
    this.totals = { ...state.epochTotals, metricSums: [...state.epochTotals.metricSums] };
    this.history.splice(0, this.history.length, ...state.history);
  }

  /**
   * Asks the run to stop: the step in progress is abandoned (its update is never applied), so the
   * position stays at that step and a resume recomputes it whole. run() resolves 'stopped'.
   */
  requestStop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.current?.fail(new StopRequested(reason));
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** Why the run was asked to stop, if it was. */
  get stopRequested(): string | undefined {
    return this.stopReason;
  }

  /** Stops the worker-timeout clock: the job is closing. */
  stop(): void {
    this.clock.stop();
  }

  /** Runs from `position` to the end of the config's epochs, or until a stop is requested. */
  async run(): Promise<RunOutcome> {
    const { config, data, log } = this.options;
    try {
      if (config.epochs > this.position.epoch) {
        log.info('waiting for workers', { minWorkers: this.options.minWorkers });
        await this.waitForWorkers(this.options.minWorkers);
      }
      this.started = true;
      while (this.position.epoch < config.epochs) {
        const { epoch } = this.position;
        const batches = planEpoch(epochOrder(data.train.rows, config.seed, epoch, config.shuffle), epoch, config.batchSize, chunkSizeOf(config));
        for (const plan of batches.slice(this.position.batch)) {
          if (this.stopReason !== undefined) return 'stopped';
          const stepStarted = performance.now();
          await this.runStep(plan, batches.length);
          this.totals.seconds += (performance.now() - stepStarted) / 1000;
          const every = this.options.checkpointEvery ?? 0;
          if (every > 0 && this.position.step % every === 0 && this.position.batch < batches.length) this.options.onCheckpoint?.('steps');
        }
        this.endEpoch();
        this.options.onCheckpoint?.('epoch');
      }
      return 'finished';
    } catch (err) {
      if (err instanceof StopRequested) return 'stopped';
      throw err;
    } finally {
      this.current = undefined;
    }
  }

  private async runStep(plan: BatchPlan, batches: number): Promise<void> {
    if (this.aborted) throw this.aborted;
    const { config, server, log } = this.options;
    const { step } = this.position;
    const started = performance.now();
    const round = new StepRound<WorkerSession>({
      step,
      plan,
      metricCount: config.metrics.length,
      sink: server,
      workers: () => this.options.workers.ready,
      dispatch: (session, indices) => {
        log.debug('chunks sent', { worker: session.name, step, chunks: indices });
        this.options.workers.send(session, stepMessage(step, plan, indices, this.options.data.train, server, config.seed));
      },
      timed: (ms) => this.latency.record(ms),
      starved: (chunks) => {
        log.warn('no worker is ready; waiting for one to join', { step, chunks });
        this.clock.start('no worker has been ready');
      },
    });
    this.current = round;
    round.start();
    const watch = this.watchRound(round, started);
    try {
      await round.done;
    } finally {
      clearInterval(watch);
    }
    const gathered = performance.now();
    server.update();
    log.debug('step done', { step, gatherMs: +(gathered - started).toFixed(1), adamMs: +(performance.now() - gathered).toFixed(1) });
    const batchLoss = round.lossSum();
    this.totals.lossSum += batchLoss;
    round.metricSums.forEach((sums, i) => {
      for (const v of sums) this.totals.metricSums[i]! += v;
    });
    this.position = { epoch: plan.epoch, batch: plan.batch + 1, step: step + 1 };
    this.samples += plan.size;
    this.options.onStep?.({ epoch: plan.epoch, batch: plan.batch, batches, step: step + 1, samples: plan.size, loss: batchLoss / plan.size });
  }

  /**
   * While a round runs: hands straggling chunks to idle workers, and every `statusEveryMs` logs
   * which chunks the step still waits for, from whom, and for how long, so no wait is silent.
   */
  private watchRound(round: StepRound<WorkerSession>, started: number): NodeJS.Timeout {
    const statusEvery = this.options.statusEveryMs ?? 15_000;
    let nextStatus = started + statusEvery;
    return setInterval(() => {
      const stragglers = this.options.duplicateStragglers ? round.duplicateStragglers(this.latency.stragglerAfter()) : [];
      for (const d of stragglers) {
        this.options.log.info('straggler: chunk also given to an idle worker', { step: round.step, chunk: d.index, slow: d.from.name, idle: d.to.name, waitedMs: Math.round(d.waitedMs) });
      }
      const now = performance.now();
      if (now < nextStatus) return;
      nextStatus = now + statusEvery;
      const waiting = round.outstanding().map(({ index, workers }) => `${index}${workers.length ? ` (${workers.map((w) => w.name).join(', ')})` : ' (no worker ready)'}`);
      this.options.log.warn('step still waiting for chunks', { step: round.step, seconds: Math.round((now - started) / 1000), chunks: waiting.join('; ') });
    }, Math.min(100, statusEvery));
  }

  private endEpoch(): void {
    const { config, data, validation, server, log } = this.options;
    this.current = undefined;
    const report: EpochReport = {
      epoch: this.position.epoch + 1,
      epochs: config.epochs,
      ...meansOf({ samples: data.train.rows, lossSum: this.totals.lossSum, metricSums: this.totals.metricSums }, config.metrics),
      seconds: this.totals.seconds,
    };
    if (validation) {
      this.options.onValidate?.({ epoch: report.epoch, samples: validation.data.rows });
      Object.assign(report, validation.evaluate(server.params));
    }
    this.history.push(report);
    log.info('epoch done', { ...report });
    this.options.onEpoch?.(report);
    this.position = { epoch: this.position.epoch + 1, batch: 0, step: this.position.step };
    this.totals = this.freshTotals();
  }

  private freshTotals(): EpochTotals {
    return { lossSum: 0, metricSums: this.options.config.metrics.map(() => 0), seconds: 0 };
  }

  private async waitForWorkers(count: number): Promise<void> {
    // No silent wait: say now and then how many workers are still missing.
    const status = setInterval(() => {
      this.options.log.info('still waiting for workers', { ready: this.options.workers.ready.length, needed: count });
    }, this.options.statusEveryMs ?? 15_000);
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (this.aborted) return reject(this.aborted);
          if (this.stopReason !== undefined) return reject(new StopRequested(this.stopReason));
          const ready = this.options.workers.ready.length;
          if (ready >= count) return resolve();
          this.clock.start(`only ${ready} of ${count} workers have been ready`);
          this.readyWaiters.push(check);
        };
        check();
      });
    } finally {
      clearInterval(status);
    }
  }
}
