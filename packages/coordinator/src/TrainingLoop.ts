import { emptyMetricStatistics, meansOf, metricStatisticsLength, NumericError, type AdamantError, type BatchPlan, type ChunkResult } from '@adamant/core';
import type { EpochReport } from './reports.js';
import { ChunkDeadline } from './ChunkDeadline.js';
import { ChunkLatency } from './ChunkLatency.js';
import { createRound, type RoundContext } from './createRound.js';
import { EpochMonitors } from './EpochMonitors.js';
import { EpochPlans } from './EpochPlans.js';
import { ReadyWait } from './ReadyWait.js';
import { epochReport } from './epochReport.js';
import type { StepRound } from './StepRound.js';
import { StepTimeLog } from './StepTimeLog.js';
import type { Validation } from './Validation.js';
import type { EpochTotals, RunOutcome, TrainingLoopOptions, TrainingLoopState, TrainingPosition } from './trainingLoopOptions.js';
import { Verification, type VerificationCounts } from './Verification.js';
import { watchRound } from './watchRound.js';
import { WorkerTimeoutClock } from './WorkerTimeoutClock.js';
import type { WorkerSession } from './WorkerServer.js';

export type { WorkerPool } from './createRound.js';
export type { EpochEndEvent, EpochTotals, RunOutcome, TrainingLoopOptions, TrainingLoopState, TrainingPosition } from './trainingLoopOptions.js';

/** Thrown into a waiting step round or wait when a stop is requested. */
class StopRequested extends Error {}

/**
 * The job's epochs: waits for `minWorkers`, then runs one step round per global batch (the
 * parameter server updates after each), reports every step and epoch, and validates after each
 * epoch (a forward-only round on the workers). Its position (epoch, batch, global step) and the running epoch sums are explicit values,
 * so a run can be reported, checkpointed and continued from them. Holds the --worker-timeout clock,
 * and the epoch monitors (early stopping, the best epoch), which may end the run early.
 */
export class TrainingLoop {
  position: TrainingPosition = { epoch: 0, batch: 0, step: 0 };
  readonly history: EpochReport[] = [];
  readonly monitors: EpochMonitors;
  private totals: EpochTotals;
  private current: StepRound<WorkerSession> | undefined;
  private aborted: AdamantError | undefined;
  private readonly readyWait: ReadyWait;
  private readonly clock: WorkerTimeoutClock;
  private stopReason: string | undefined;
  private readonly latency = new ChunkLatency();
  private readonly deadline = new ChunkDeadline<WorkerSession>();
  private readonly verification: Verification<WorkerSession> | undefined;
  private readonly unpaired = new WeakSet<WorkerSession>();
  private readonly plans: EpochPlans;
  private readonly timeLog: StepTimeLog;
  /** Samples trained by this process (a continued run counts only its own). */
  samples = 0;
  /** Seconds this process spent in training steps: no waiting for workers before them, no validation. */
  trainingSeconds = 0;
  started = false;

  constructor(private readonly options: TrainingLoopOptions) {
    this.clock = new WorkerTimeoutClock(options.workerTimeoutMs, (error) => this.abort(error));
    this.readyWait = new ReadyWait(options.workers, this.clock, options.log, options.statusEveryMs ?? 15_000);
    this.totals = this.freshTotals();
    const verify = options.verify ?? 0;
    this.verification = verify > 0 ? new Verification(verify, options.config.seed) : undefined;
    this.monitors = new EpochMonitors(options.config, options.validation !== undefined, options.log);
    this.plans = new EpochPlans(options.config, options.data.train, options.validation !== undefined);
    this.timeLog = new StepTimeLog(options.log);
  }

  /** A worker became ready: wakes whoever waits for workers and gives it the orphaned chunks. */
  workerJoined(): void {
    this.clock.stop();
    this.readyWait.wake();
    this.current?.workerJoined();
  }

  /** A worker left: its chunks of the current step go to the others. Returns how many. */
  workerLeft(session: WorkerSession): number {
    this.deadline.forget(session);
    return this.current?.workerLeft(session) ?? 0;
  }

  /**
   * A chunk result; throws ProtocolError for a malformed one (its peer is dropped). A NumericError
   * stops the job here, whoever handles the socket: it is the job's failure, not the peer's.
   */
  chunkResult(session: WorkerSession, message: ChunkResult): void {
    this.timeLog.chunk(session.id, message);
    let receipt: string;
    try {
      receipt = this.current ? this.current.receive(session, message) : 'late';
    } catch (err) {
      if (!(err instanceof NumericError)) throw err;
      this.abort(err);
      return;
    }
    if (receipt === 'accepted' || receipt === 'held') {
      // A result for a chunk it holds (not any frame: a peer could send stale ones to look busy): its deadline starts again on what it still holds.
      const next = this.current?.owedBy(session)[0];
      this.deadline.answered(session, performance.now(), next === undefined ? undefined : { step: this.current!.step, index: next });
    } else if (receipt === 'late' || receipt === 'not owed') {
      // A late answer for a step that has moved on, or for a chunk that went to another worker.
      this.options.log.debug('ignoring unexpected chunk', { worker: session.name, step: message.step, index: message.index, receipt });
    }
  }

  /** What --verify did so far; undefined when it is off. */
  get verificationCounts(): VerificationCounts | undefined {
    return this.verification ? { ...this.verification.counts, quarantined: [...this.verification.counts.quarantined] } : undefined;
  }

  /** Stops training with `error` (run() rejects with it). */
  abort(error: AdamantError): void {
    this.clock.stop();
    this.aborted ??= error;
    this.current?.fail(error);
    this.readyWait.wake();
  }

  /** Its state for a checkpoint (copies). */
  state(): TrainingLoopState {
    const epochTotals = { ...this.totals, metricSums: [...this.totals.metricSums] };
    return { position: { ...this.position }, epochTotals, history: this.history.map((r) => ({ ...r })), monitoring: this.monitors.state() };
  }

  /** Continues from a checkpoint's state: run() then starts at its position. */
  restore(state: TrainingLoopState): void {
    const statistics = metricStatisticsLength(this.options.config.metrics);
    if (state.epochTotals.metricSums.length !== statistics) {
      throw new RangeError(`the checkpoint has ${state.epochTotals.metricSums.length} metric statistics, the job's metrics need ${statistics}`);
    }
    this.position = { ...state.position };
    this.totals = { ...state.epochTotals, metricSums: [...state.epochTotals.metricSums] };
    this.history.splice(0, this.history.length, ...state.history);
    this.monitors.restore(state.monitoring, this.options.server.params.length);
  }

  /**
   * Asks the run to stop: the step in progress is abandoned (its update is never applied), so the
   * position stays at that step and a resume recomputes it whole. run() resolves 'stopped'.
   */
  requestStop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.current?.fail(new StopRequested(reason));
    this.readyWait.wake();
  }

  /** Why the run was asked to stop, if it was. */
  get stopRequested(): string | undefined {
    return this.stopReason;
  }

  /** Stops the worker-timeout clock: the job is closing. */
  stop(): void {
    this.clock.stop();
  }

  /** Runs from `position` to the end of the config's epochs, or until a stop is requested or early stopping ends it. */
  async run(): Promise<RunOutcome> {
    const { config, log } = this.options;
    try {
      // A checkpoint taken as early stopping ended its run: nothing is left to train.
      if (this.monitors.stopped) return 'stopped early';
      if (config.epochs > this.position.epoch) {
        log.info('waiting for workers', { minWorkers: this.options.minWorkers });
        await this.readyWait.until(this.options.minWorkers, () => this.interruption());
      }
      this.started = true;
      while (this.position.epoch < config.epochs) {
        const batches = this.plans.of(this.position.epoch);
        for (const plan of batches.slice(this.position.batch)) {
          const stepStarted = performance.now();
          await this.runStep(plan, batches.length);
          const stepSeconds = (performance.now() - stepStarted) / 1000;
          this.totals.seconds += stepSeconds;
          this.trainingSeconds += stepSeconds;
          const every = this.options.checkpointEvery ?? 0;
          if (every > 0 && this.position.step % every === 0 && this.position.batch < batches.length) this.options.onCheckpoint?.('steps');
        }
        const stop = await this.endEpoch();
        this.options.onCheckpoint?.('epoch');
        if (stop) return 'stopped early';
      }
      return 'finished';
    } catch (err) {
      if (err instanceof StopRequested) return 'stopped';
      throw err;
    } finally {
      this.current = undefined;
    }
  }

  /** What every round takes from the loop: the job, the workers, and the clocks the rounds share. */
  private roundContext(): RoundContext {
    const { config, data, server, workers, log, maxChunkGradNorm } = this.options;
    return {
      config,
      data,
      server,
      workers,
      log,
      deadline: this.deadline,
      latency: this.latency,
      clock: this.clock,
      unpaired: this.unpaired,
      ...(this.verification ? { verification: this.verification } : {}),
      ...(maxChunkGradNorm !== undefined ? { maxChunkGradNorm } : {}),
    };
  }

  /** Starts a round as the current one and waits, watching it, until every chunk is in; rejects if it fails (an abort, a stop). */
  private async runRound(round: StepRound<WorkerSession>): Promise<void> {
    const interrupted = this.interruption();
    if (interrupted) throw interrupted;
    const { log, chunkTimeoutMs } = this.options;
    this.current = round;
    const startedAt = performance.now();
    round.start();
    this.timeLog.sent(round, startedAt);
    // The previous update's deferred part runs now that this step's messages are out, while the workers compute.
    if (round.kind === 'train') this.options.server.finishUpdateInSlices();
    const stopWatching = watchRound(round, {
      log,
      deadline: this.deadline,
      latency: this.latency,
      duplicateStragglers: this.options.duplicateStragglers,
      statusEveryMs: this.options.statusEveryMs ?? 15_000,
      ...(chunkTimeoutMs !== undefined ? { chunkTimeoutMs } : {}),
    });
    try {
      await round.done;
    } finally {
      stopWatching();
    }
  }

  private async runStep(plan: BatchPlan, batches: number): Promise<void> {
    const { server } = this.options;
    const { step } = this.position;
    const started = performance.now();
    const round = createRound(step, plan, this.roundContext());
    await this.runRound(round);
    this.timeLog.gathered(server.deferredMs);
    try {
      // Told the next step, the server updates first what that step reads, and the rest while it computes.
      server.update(this.plans.after(plan));
    } catch (err) {
      if (!(err instanceof NumericError)) throw err;
      throw new NumericError(`step ${step} (epoch ${plan.epoch + 1}, batch ${plan.batch + 1}): ${err.message}. Lower the learning rate or check the data`);
    }
    this.timeLog.updated(step, server.updateMs);
    const batchLoss = round.lossSum();
    this.totals.lossSum += batchLoss;
    // Each statistic gets the batch's chunks in chunk order, like the loss.
    round.metricSums.forEach((sums, i) => {
      for (const v of sums) this.totals.metricSums[i]! += v;
    });
    this.position = { epoch: plan.epoch, batch: plan.batch + 1, step: step + 1 };
    this.samples += plan.size;
    // Every batch but an epoch's last holds batchSize samples, so this counts the epoch's samples so far, across a resume too.
    const epochSamples = Math.min((plan.batch + 1) * this.options.config.batchSize, this.options.data.train.rows);
    const running = meansOf({ samples: epochSamples, lossSum: this.totals.lossSum, metricSums: this.totals.metricSums }, this.options.config.metrics);
    this.options.onStep?.({
      epoch: plan.epoch,
      batch: plan.batch,
      batches,
      step: step + 1,
      samples: plan.size,
      loss: batchLoss / plan.size,
      epochLoss: running.loss,
      epochMetrics: running.metrics,
      stepMs: performance.now() - started,
    });
  }

  /**
   * Reports the epoch, after validating it, and lets the monitors judge it; returns whether early
   * stopping ends the run here (having put the best weights back, if it keeps them). Until the
   * report is in the history the position stays at the epoch's end, so a checkpoint taken meanwhile
   * (a stop during validation) resumes by validating the same weights again.
   */
  private async endEpoch(): Promise<boolean> {
    const { config, data, validation, log, server } = this.options;
    const report = epochReport(this.position.epoch, this.totals, data.train.rows, this.position.step, config);
    if (validation) {
      this.options.onValidate?.({ epoch: report.epoch, samples: validation.data.rows });
      Object.assign(report, await this.validate(validation));
    }
    this.current = undefined;
    const verdict = this.monitors.epochEnded(report, server.params);
    this.history.push(report);
    // Debug: the embedder prints each epoch (the CLI's epoch line); at info it would show twice.
    log.debug('epoch done', { ...report, ...(this.verification ? { verification: this.verificationCounts } : {}) });
    await this.options.afterEpoch?.({ history: this.history, best: this.monitors.bestEpoch, improved: verdict.improved });
    if (verdict.stop) {
      const stop = this.monitors.earlyStop!;
      if (verdict.restore) server.setWeights(verdict.restore, `the weights of the best epoch (${stop.bestEpoch})`);
      log.info('early stopping', { ...stop });
    }
    this.options.onEpoch?.(report);
    this.position = { epoch: this.position.epoch + 1, batch: 0, step: this.position.step };
    this.totals = this.freshTotals();
    return verdict.stop;
  }

  /**
   * Validation on the workers: the validation rows as a forward-only round on the weights the
   * epoch ended with (no update runs until it is done), through the same machinery as a step, so
   * a worker that leaves loses nothing and its chunks go to the others.
   */
  private async validate(validation: Validation): Promise<Pick<EpochReport, 'valLoss' | 'valMetrics'>> {
    const started = performance.now();
    const { epoch, step } = this.position;
    const round = createRound(step, validation.plan(epoch), this.roundContext(), 'evaluate');
    await this.runRound(round);
    this.options.log.debug('validation done', { epoch: epoch + 1, chunks: round.plan.chunks.length, ms: +(performance.now() - started).toFixed(1) });
    return validation.figures(round);
  }

  /** What ends a wait or refuses a round: the abort's error, or a stop request. */
  private interruption(): Error | undefined {
    return this.aborted ?? (this.stopReason !== undefined ? new StopRequested(this.stopReason) : undefined);
  }

  private freshTotals(): EpochTotals {
    return { lossSum: 0, metricSums: emptyMetricStatistics(this.options.config.metrics), seconds: 0 };
  }
}
