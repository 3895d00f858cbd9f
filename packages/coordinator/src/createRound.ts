import type { BatchPlan, JobConfig, Log, PreparedData } from '@adamant/core';
import type { ChunkDeadline } from './ChunkDeadline.js';
import type { ChunkLatency } from './ChunkLatency.js';
import type { ParameterServer } from './ParameterServer.js';
import { StepRound, type RoundKind } from './StepRound.js';
import { stepMessage } from './stepMessage.js';
import { ForwardOnlySink } from './Validation.js';
import type { Verification } from './Verification.js';
import type { WorkerSession } from './WorkerServer.js';
import type { WorkerTimeoutClock } from './WorkerTimeoutClock.js';

/** The workers as the training loop sees them: who is ready, how to reach them, and how to drop one. */
export interface WorkerPool {
  readonly ready: WorkerSession[];
  send(session: WorkerSession, message: ReturnType<typeof stepMessage>): void;
  /** Closes a worker's connection and stops counting it as ready; `quarantine`: it may not rejoin this job. */
  drop(session: WorkerSession, reason: string, quarantine: boolean): void;
}

/** What a step round takes from the training loop: the job, the workers, and the clocks it feeds. */
export interface RoundContext {
  config: JobConfig;
  data: PreparedData;
  server: ParameterServer;
  workers: WorkerPool;
  log: Log;
  deadline: ChunkDeadline<WorkerSession>;
  latency: ChunkLatency;
  /** The --worker-timeout clock: runs while chunks wait for a worker. */
  clock: WorkerTimeoutClock;
  verification?: Verification<WorkerSession>;
  maxChunkGradNorm?: number;
  /** Workers already named for a chunk applied unverified (said once each). */
  unpaired: WeakSet<WorkerSession>;
}

/**
 * The round of global step `step` over batch `plan`, wired to the job: it sends step messages,
 * drops and quarantines workers through the pool, feeds the chunk deadline and latency, starts
 * the worker-timeout clock while chunks wait, and logs what happens. Not started yet.
 *
 * Kind 'evaluate': the validation round on the weights of step `step`, over `plan`'s rows of the
 * validation split, forward only. Its chunk times stay out of the latency record, which measures
 * training chunks.
 */
export function createRound(step: number, plan: BatchPlan, context: RoundContext, kind: RoundKind = 'train'): StepRound<WorkerSession> {
  const { config, data, server, workers, log, deadline, clock } = context;
  const names = (sessions: WorkerSession[]) => sessions.map((s) => s.name).join(', ');
  const training = kind === 'train';
  const rows = training ? data.train : data.validation;
  const sent = training ? 'chunks sent' : 'validation chunks sent';
  return new StepRound<WorkerSession>({
    step,
    plan,
    kind,
    metricNames: config.metrics,
    sink: training ? server : new ForwardOnlySink(),
    workers: () => workers.ready,
    dispatch: (session, indices) => {
      log.debug(sent, { worker: session.name, step, chunks: indices });
      deadline.handed(session, step, indices[0]!, performance.now());
      workers.send(session, stepMessage(step, plan, indices, rows, server, config.seed, kind));
    },
    drop: (session, reason, quarantine) => {
      if (quarantine) log.error('worker quarantined: its result contradicts two others; it may not rejoin this job', { worker: session.name, reason });
      else log.warn('dropping worker', { worker: session.name, reason });
      deadline.forget(session);
      workers.drop(session, reason, quarantine);
    },
    ...(training ? { timed: (ms: number) => context.latency.record(ms) } : {}),
    starved: (chunks) => {
      log.warn('no worker is ready; waiting for one to join', { step, chunks });
      clock.start('no worker has been ready');
    },
    unverifiable: (chunk, session) => {
      if (context.unpaired.has(session)) return;
      context.unpaired.add(session);
      log.warn('verification: no second worker on this backend was ready; a chunk of this worker was applied unverified (said once per worker; see the unverifiable count)', { worker: session.name, backend: session.backend, step, chunk });
    },
    mismatch: (chunk, sessions) => log.warn('verification: results differ; a third worker decides', { step, chunk, workers: names(sessions) }),
    undecided: (chunk, sessions) => {
      log.warn('verification: results differ and no other worker on this backend is ready to decide; waiting for one to join', { step, chunk, workers: names(sessions) });
      clock.start(`chunk ${chunk} of step ${step} has disagreeing results and no worker to decide`);
    },
    ...(context.verification ? { verification: context.verification } : {}),
    ...(context.maxChunkGradNorm !== undefined ? { maxChunkGradNorm: context.maxChunkGradNorm } : {}),
  });
}
