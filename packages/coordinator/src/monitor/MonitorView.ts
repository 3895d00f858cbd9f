import type { JobConfig } from '@adamant/core';
import type { SeriesRow } from './BoundedSeries.js';
import type { StepTimeSplit } from './StepTimeline.js';
import type { WorkerRow } from './WorkerTable.js';

// What the HTTP routes read from the run monitor: the shapes the dashboard and probes see.

/** waiting: for enough workers to start; training: steps run; the others: the job is over, or the process is closing. */
export type RunPhase = 'waiting' | 'training' | 'finished' | 'stopped' | 'closed';

export interface MonitorJob {
  jobId: string;
  /** The resolved job config (the model, the optimizer, the data file's path; never the data or the token). */
  config: JobConfig;
  minWorkers: number;
  /** Names of a step row's columns: step, batch loss, the epoch's running loss, the epoch's running metrics. */
  stepColumns: string[];
  /** Names of an epoch row's columns: epoch, loss, metrics, then val_loss and val_ metrics (null without validation). */
  epochColumns: string[];
  /** Names of a step-split row's columns: step, then the StepTimeSplit parts in ms. */
  splitColumns: string[];
}

export interface MonitorStatus {
  phase: RunPhase;
  position: { epoch: number; epochs: number; batch: number; batches: number; step: number };
  totals: { steps: number; samples: number; chunks: number; chunksReassigned: number; bytesIn: number; bytesOut: number };
  /** Since the last checkpoint was written, or since the coordinator started while none has been. */
  checkpointAgeSeconds: number;
  uptimeSeconds: number;
  split: { last: StepTimeSplit | null; recent: StepTimeSplit | null };
  workers: WorkerRow[];
}

/** Everything at once: what a dashboard that just connected draws. */
export interface MonitorSnapshot extends MonitorStatus {
  job: MonitorJob;
  steps: SeriesRow[];
  epochs: SeriesRow[];
  splits: SeriesRow[];
}

/** What changed since the previous delta: new rows (appended by x), and the status as of now. */
export interface MonitorDelta extends MonitorStatus {
  steps: SeriesRow[];
  epochs: SeriesRow[];
  splits: SeriesRow[];
}

export interface Readiness {
  ready: boolean;
  /** Why not, or what it is doing. */
  reason: string;
  phase: RunPhase;
  readyWorkers: number;
  /** Workers needed now: minWorkers before the first step, one after. */
  neededWorkers: number;
}

export interface MonitorView {
  snapshot(): MonitorSnapshot;
  /** The rows since the last call and the status; 'resync' when more rows came than a delta holds (send a snapshot). */
  takeDelta(): MonitorDelta | 'resync';
  readiness(): Readiness;
  /** Called once when the coordinator stops serving. */
  onClose(listener: () => void): void;
}
