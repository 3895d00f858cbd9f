import type { Checkpoint, GemmChoice, JobConfig, Log, Normalization, TokenizerJSON } from '@adamant/core';
import type { EpochReport, StepReport, WorkerEvent } from './reports.js';

export interface CoordinatorOptions {
  config: JobConfig;
  /** Names the config in errors (usually its path). */
  source: string;
  /** When set, workers must present it in their hello. */
  token?: string;
  /** Workers to wait for before the first step (later ones join at the next step). */
  minWorkers?: number;
  /**
   * Give up (E_CONNECT) when training has waited this long for workers: fewer than minWorkers
   * before the first step, or none at all later. Unset: wait for ever.
   */
  workerTimeoutMs?: number;
  /**
   * A worker silent this long (no frame, no pong) is presumed gone, as after a network partition
   * that sends no FIN or RST, and its chunks go to the others. It must exceed the longest chunk a
   * worker computes, since a computing worker answers pings only between chunks. Default 60 s.
   */
  heartbeatMs?: number;
  /**
   * Give a chunk that is out far longer than usual to an idle worker as well (the first result
   * wins; both are bitwise equal). Default true; false saves the duplicate work.
   */
  duplicateStragglers?: boolean;
  /**
   * A worker holding a chunk longer than this is dropped and the chunk goes to the others: the
   * backstop for a peer that answers pings but never returns its chunks, when no worker is idle to
   * take the chunk as a straggler. Unset: 10x the median of recent chunk times, at least 30 s, and
   * 10 minutes before any chunk came back.
   */
  chunkTimeoutMs?: number;
  /**
   * Fraction of chunks (0..1, chosen by the seed) computed by two workers on the same backend and
   * applied only when the results agree to the bit; a worker that two others contradict is
   * quarantined. Workers on probation (none of their results has yet agreed with another's) have
   * every chunk verified. Default 0: off.
   */
  verify?: number;
  /**
   * A chunk whose gradient L2 norm exceeds this times its sample count (or holds NaN or Infinity)
   * costs its worker the connection, and another worker computes it; when a second worker's
   * result is beyond it too, or no other worker is ready, the job stops with E_NUMERIC. Unset: no
   * bound, and a non-finite chunk stops the job at once.
   */
  maxChunkGradNorm?: number;
  /** While training waits (for workers, or for a step's chunks), log what it waits for this often. Default 15 s. */
  statusEveryMs?: number;
  /** A text job continuing from a saved model (--init) keeps that model's vocabulary. */
  tokenizer?: TokenizerJSON;
  /** A table job continuing from a saved model (--init) keeps that model's normalisation. */
  normalization?: Normalization;
  /** A classifier continuing from a saved model (--init) keeps that model's label set. */
  labels?: string[];
  /** Where and how often to write checkpoints; unset: none. */
  checkpoints?: CheckpointPolicy;
  /** Continue from this checkpoint (same job: the config's mathematics and the data must match). */
  resume?: Checkpoint;
  /**
   * Serve the live dashboard on the workers' port: `GET /`, its files and `GET /events`. Like
   * /metrics it needs no token: it shows the config, the figures and the workers, never the data
   * or the token. Default false.
   */
  dashboard?: boolean;
  /** Serve `GET /metrics` (Prometheus) on the workers' port. Default true. /healthz and /readyz are always served. */
  metrics?: boolean;
  /**
   * The GEMM engine of the fused path, sent in the job for workers that do not choose their own
   * (`adamant worker --gemm`). Unset: they pick `auto`. Not part of the job's identity: like the
   * backend, it moves only the last bits.
   */
  gemm?: GemmChoice;
  log?: Log;
  onWorker?: (event: WorkerEvent) => void;
  onStep?: (report: StepReport) => void;
  onEpoch?: (report: EpochReport) => void;
  /** Validation of an epoch starts (it runs on the coordinator, between epochs). */
  onValidate?: (event: { epoch: number; samples: number }) => void;
}

export interface CheckpointPolicy {
  /** The folder (a run's `<out>/checkpoints`). */
  dir: string;
  /** Also every N global steps (0: only at the end of each epoch and when stopped). */
  everySteps?: number;
  /** How many to keep, newest first (default 3). */
  keep?: number;
}
