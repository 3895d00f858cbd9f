import type { WorkerEvent } from '@adamant/coordinator';
import { chunkSizeOf, type JobConfig, type Log } from '@adamant/core';

/**
 * A listener for worker events that warns, once, when more workers are connected than a step
 * has chunks: the extra ones only stand in for stragglers. It names the chunk count and a
 * chunkSize that would give each worker a chunk (a chunk size changes the last bits of the
 * results, not the mathematics).
 */
export function warnOfIdleWorkers(config: Pick<JobConfig, 'batchSize' | 'chunkSize'>, log: Log): (e: WorkerEvent) => void {
  const chunkSize = chunkSizeOf(config);
  const chunks = Math.ceil(config.batchSize / chunkSize);
  let warned = false;
  return (e) => {
    if (warned || e.kind !== 'joined' || e.workers <= chunks) return;
    warned = true;
    const idle = e.workers - chunks;
    const fit = Math.floor(config.batchSize / e.workers);
    const hint =
      fit >= 1 ? `set "chunkSize": ${fit} in the config to give each of ${e.workers} workers a chunk` : `raise batchSize to at least ${e.workers} to give each worker a chunk`;
    log.warn(
      `${e.workers} workers for ${chunks} chunks per step (batchSize ${config.batchSize}, chunkSize ${chunkSize}): ${idle} of them will sit idle, except to stand in for stragglers; ${hint}`,
    );
  };
}
