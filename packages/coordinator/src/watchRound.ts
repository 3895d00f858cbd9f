import type { Log } from '@adamant/core';
import type { ChunkDeadline } from './ChunkDeadline.js';
import type { ChunkLatency } from './ChunkLatency.js';
import type { RoundWorker, StepRound } from './StepRound.js';

export interface RoundWatchOptions<W> {
  log: Log;
  /** Who holds which chunk unanswered since when (the job's, across rounds). */
  deadline: ChunkDeadline<W>;
  /** Recent chunk times: the straggler threshold and the default deadline. */
  latency: ChunkLatency;
  /** See CoordinatorOptions.duplicateStragglers. */
  duplicateStragglers: boolean;
  /** See CoordinatorOptions.chunkTimeoutMs; unset: derived from `latency`. */
  chunkTimeoutMs?: number;
  /** Log what the step still waits for this often. */
  statusEveryMs: number;
  /** The clock (ms); performance.now by default. */
  now?: () => number;
}

/**
 * Watches a running round: hands straggling chunks to idle workers, drops a worker that has held a
 * chunk past the deadline without answering (a peer that answers pings but never returns its
 * chunks would otherwise stall the step for ever, or slow every step down to the straggler
 * threshold; its chunks go to the others), and every `statusEveryMs` logs which
 * chunks the step still waits for, from whom, and for how long, so no wait is silent. Returns
 * the function that stops watching.
 */
export function watchRound<W extends RoundWorker>(round: StepRound<W>, options: RoundWatchOptions<W>): () => void {
  const { log, latency } = options;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let nextStatus = started + options.statusEveryMs;
  const timer = setInterval(() => {
    const stragglers = options.duplicateStragglers ? round.duplicateStragglers(latency.stragglerAfter()) : [];
    for (const d of stragglers) {
      log.info('straggler: chunk also given to an idle worker', { step: round.step, chunk: d.index, slow: d.from.name, idle: d.to.name, waitedMs: Math.round(d.waitedMs) });
    }
    const deadlineMs = options.chunkTimeoutMs ?? latency.deadline();
    for (const { worker, chunk, heldMs } of options.deadline.overdue(deadlineMs, now())) {
      const [heldS, deadlineS] = [Math.round(heldMs / 1000), Math.round(deadlineMs / 1000)];
      log.warn('chunk deadline passed: dropping the worker; its chunks go to the others', { worker: worker.name, step: chunk.step, chunk: chunk.index, heldS, deadlineS });
      options.deadline.forget(worker);
      round.dropWorker(worker, `held chunk ${chunk.index} of step ${chunk.step} for ${heldS} s without an answer, past the ${deadlineS} s deadline (--chunk-timeout)`);
    }
    const time = now();
    if (time < nextStatus) return;
    nextStatus = time + options.statusEveryMs;
    const waiting = round.outstanding().map(({ index, workers }) => `${index}${workers.length ? ` (${workers.map((w) => w.name).join(', ')})` : ' (no worker ready)'}`);
    const what = round.kind === 'evaluate' ? 'validation still waiting for chunks' : 'step still waiting for chunks';
    log.warn(what, { step: round.step, seconds: Math.round((time - started) / 1000), chunks: waiting.join('; ') });
  }, Math.min(100, options.statusEveryMs));
  return () => clearInterval(timer);
}
