import type { JobConfig, Log, PreparedData } from '@adamant/core';
import type { WorkerPool } from './createRound.js';
import type { BestEpoch, MonitoringState } from './EpochMonitors.js';
import type { ParameterServer } from './ParameterServer.js';
import type { EpochReport, StepReport } from './reports.js';
import type { Validation } from './Validation.js';

// The training loop's options and the values it is described by (TrainingLoop.ts re-exports them).

/** Where training stands: the next step to run is batch `batch` of epoch `epoch`, global step `step`. */
export interface TrainingPosition {
  epoch: number;
  batch: number;
  step: number;
}

/** The sums of the epoch in progress (its report divides and finalises them at the end). */
export interface EpochTotals {
  lossSum: number;
  /** The metrics' additive statistics (metrics.ts), finalised by `meansOf`. */
  metricSums: number[];
  /** Training seconds spent in this epoch so far. */
  seconds: number;
}

/** What a checkpoint keeps of the loop: enough to continue as if it had never stopped. */
export interface TrainingLoopState {
  position: TrainingPosition;
  epochTotals: EpochTotals;
  history: EpochReport[];
  /** Early stopping's and the best model's state (absent in checkpoints from before them). */
  monitoring?: MonitoringState;
}

/** How a run ended: every epoch done, asked to stop (the position says where), or ended by early stopping. */
export type RunOutcome = 'finished' | 'stopped' | 'stopped early';

/** An epoch is over and reported: its figures are in `history`; `best` is the best epoch so far, `improved` whether this one is it. */
export interface EpochEndEvent {
  history: readonly EpochReport[];
  best: BestEpoch | undefined;
  improved: boolean;
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
  /** Awaited at every epoch's end, before its checkpoint and before early stopping restores any weights: writes the run's files. */
  afterEpoch?: (event: EpochEndEvent) => Promise<void>;
  onValidate?: (event: { epoch: number; samples: number }) => void;
  /** Called after every epoch, and every `checkpointEvery` steps, with the loop's state final for that point. */
  onCheckpoint?: (reason: 'epoch' | 'steps') => void;
  /** Steps between mid-epoch checkpoints; 0 or unset: only at the end of each epoch. */
  checkpointEvery?: number;
  /** While training waits (for workers, or for a step's chunks), log what it waits for this often. Default 15 s. */
  statusEveryMs?: number;
  /** See CoordinatorOptions.duplicateStragglers. */
  duplicateStragglers: boolean;
  /** See CoordinatorOptions.chunkTimeoutMs. */
  chunkTimeoutMs?: number;
  /** See CoordinatorOptions.verify. */
  verify?: number;
  /** See CoordinatorOptions.maxChunkGradNorm. */
  maxChunkGradNorm?: number;
}
