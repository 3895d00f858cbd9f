import type { ResolvedBackend } from '@adamant/core';
import type { VerificationCounts } from './Verification.js';

// What the coordinator tells its embedder (the CLI) while a job runs and when it ends.

export interface WorkerEvent {
  kind: 'joined' | 'left';
  workerId: number;
  name: string;
  backend?: string;
  reason?: string;
  workers: number;
}

export interface StepReport {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  samples: number;
  /** Mean loss of this batch, before the update. */
  loss: number;
  /** Mean loss over the epoch's batches so far (what Keras's bar shows). */
  epochLoss: number;
  /** The metrics over the epoch's batches so far (finalised from the running statistics). */
  epochMetrics: Record<string, number>;
  /** Wall milliseconds of this step: handing out the chunks, gathering them, and the update. */
  stepMs: number;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean training loss over the epoch's samples (computed before each step's update, as Keras reports it). */
  loss: number;
  metrics: Record<string, number>;
  valLoss?: number;
  valMetrics?: Record<string, number>;
  /** Training seconds of the epoch: its steps, not the waits for workers before them nor validation. */
  seconds: number;
  /** The learning rate of the epoch's last step (a schedule's value there). */
  learningRate: number;
  /** Training samples over `seconds`. */
  samplesPerSecond: number;
  /** Whether the monitored value (earlyStopping.monitor, else val_loss when validating, else loss) reached a new best: the epoch saved as best/. */
  improved?: boolean;
  /** Early stopping after this epoch, when the job configures it (Keras's figures; epochs 1-based). */
  earlyStopping?: { best: number | null; bestEpoch: number; wait: number; stop: boolean };
}

/** Why and where early stopping ended a run (epochs 1-based). */
export interface EarlyStop {
  /** The last epoch trained. */
  epoch: number;
  monitor: string;
  /** The best value seen, and its epoch. */
  best: number;
  bestEpoch: number;
  /** Epochs counted without improvement when it stopped (at least `patience`). */
  wait: number;
  /** Whether the weights of the best epoch replaced the last ones (restoreBestWeights). */
  restoredBestWeights: boolean;
}

export interface TrainingResult {
  epochs: number;
  steps: number;
  samples: number;
  /** Wall seconds of train(): waiting for workers, validation and saving included. */
  seconds: number;
  /** Seconds this process spent in training steps (what samples/s divides by). */
  trainingSeconds: number;
  backend: ResolvedBackend;
  workerBackends: string[];
  final?: EpochReport;
  history: EpochReport[];
  /** Where training stands: the next step to run (past the end when finished). */
  position: { epoch: number; batch: number; step: number };
  /** Set when the run was asked to stop before the end (the reason, e.g. "SIGINT"). */
  stopped?: string;
  /** Set when early stopping ended the run. */
  earlyStopping?: EarlyStop;
  /** The best epoch by the monitored value (what `<out>/best/` holds), once one was compared. */
  best?: { monitor: string; value: number; epoch: number };
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  /** What --verify did (absent when it is off). */
  verification?: VerificationCounts;
}
