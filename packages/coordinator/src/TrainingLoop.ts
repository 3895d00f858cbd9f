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

  /** Stops the worker-timeout clock: the job is closing. */
  stop(): void {
    this.clock.stop();
  }

  /** Runs from `position` to the end of the config's epochs. */
  async run(): Promise<void> {
    const { config, data, log } = this.options;
    if (config.epochs > this.position.epoch) {
      log.info('waiting for workers', { minWorkers: this.options.minWorkers });
      await this.waitForWorkers(this.options.minWorkers);
    }
    this.started = true;
    try {
      while (this.position.epoch < config.epochs) {
        const { epoch } = this.position;
        const batches = planEpoch(epochOrder(data.train.rows, config.seed, epoch, config.shuffle), epoch, config.batchSize, chunkSizeOf(config));
        for (const plan of batches.slice(this.position.batch)) {
          const stepStarted = performance.now();
          await this.runStep(plan, batches.length);
          this.totals.seconds += (performance.now() - stepStarted) / 1000;
        }
        this.endEpoch();
      }
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
      starved: (chunks) => {
        log.warn('no worker is ready; waiting for one to join', { step, chunks });
        this.clock.start('no worker has been ready');
      },
    });
    this.current = round;
    round.start();
    await round.done;
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

  private waitForWorkers(count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.aborted) return reject(this.aborted);
        const ready = this.options.workers.ready.length;
        if (ready >= count) return resolve();
        this.clock.start(`only ${ready} of ${count} workers have been ready`);
        this.readyWaiters.push(check);
      };
      check();
    });
  }
}
