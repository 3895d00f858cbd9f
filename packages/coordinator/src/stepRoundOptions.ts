import type { BatchPlan } from '@adamant/core';
import type { ParameterServer } from './ParameterServer.js';
import type { Verification } from './Verification.js';

// The types of a step round's options and answers (StepRound.ts re-exports them).

/** What a round needs to know of a worker: who it is, and the backend its results are exact on. */
export interface RoundWorker {
  readonly id: number;
  readonly name: string;
  readonly backend?: string;
}

/** The parts of the parameter server a round feeds (a forward-only round: Validation.ts's ForwardOnlySink). */
export type GradientSink = Pick<ParameterServer, 'beginStep' | 'decode' | 'nonFinite' | 'has' | 'add' | 'complete'>;

/** What a round's chunks compute: gradients (a training step), or forward only, loss and metric statistics (validation). */
export type RoundKind = 'train' | 'evaluate';

export interface StepRoundOptions<W extends RoundWorker> {
  /** The weights' step: the round's chunks are computed on the weights after `step` updates. */
  step: number;
  plan: BatchPlan;
  /** Default 'train'. Results count only in a round of their own kind (their `evaluate` mark). */
  kind?: RoundKind;
  /** The job's metrics, in order (their statistics come with every chunk). */
  metricNames: readonly import('@adamant/core').MetricName[];
  sink: GradientSink;
  /** The workers ready to take chunks now; asked at every hand-out. */
  workers: () => readonly W[];
  /** Sends chunks `indices` of this round to `worker` (one step message). */
  dispatch: (worker: W, indices: number[]) => void;
  /** Closes `worker`'s connection (`quarantine`: it may not rejoin); the round has already moved its chunks. */
  drop?: (worker: W, reason: string, quarantine: boolean) => void;
  /** No worker is ready: `chunks` chunks wait as orphans until one joins. */
  starved?: (chunks: number) => void;
  /** A chunk result was taken `ms` after its chunk was handed to that worker (for the straggler threshold and deadline). */
  timed?: (ms: number) => void;
  /** `--verify`; unset: every chunk is computed once and the first result wins. */
  verification?: Verification<W>;
  /** Two workers' results for chunk `index` differ (a third decides). */
  mismatch?: (index: number, workers: W[]) => void;
  /** Chunk `index` was to be verified, but no second worker on `worker`'s backend was ready: applied on its result alone. */
  unverifiable?: (index: number, worker: W) => void;
  /** Chunk `index` has results that disagree and no other worker on its backend is ready to decide; it waits for one to join. */
  undecided?: (index: number, workers: W[]) => void;
  /** `--max-chunk-grad-norm`, per sample: a chunk beyond it (or not finite) costs the peer its connection unless a second worker confirms it. */
  maxChunkGradNorm?: number;
  /** The clock (ms) for hand-out times and deadlines; performance.now by default. */
  now?: () => number;
}

/** A chunk handed to an idle worker while another still computes it. */
export interface Duplicate<W> {
  index: number;
  from: W;
  to: W;
  waitedMs: number;
}

/**
 * How a chunk result was taken: it completed its chunk, is held until another worker's result
 * agrees, was refused (its worker was dropped), or is not counted (another round: another step
 * or kind; or not owed).
 */
export type Receipt = 'accepted' | 'held' | 'refused' | 'late' | 'not owed';
