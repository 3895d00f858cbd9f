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
  seconds: number;
}

export interface TrainingResult {
  epochs: number;
  steps: number;
  samples: number;
  seconds: number;
  backend: ResolvedBackend;
  workerBackends: string[];
  final?: EpochReport;
  history: EpochReport[];
  /** Where training stands: the next step to run (past the end when finished). */
  position: { epoch: number; batch: number; step: number };
  /** Set when the run was asked to stop before the end (the reason, e.g. "SIGINT"). */
  stopped?: string;
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  /** What --verify did (absent when it is off). */
  verification?: VerificationCounts;
}
