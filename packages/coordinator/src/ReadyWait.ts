import type { Log } from '@adamant/core';
import type { WorkerPool } from './createRound.js';
import type { WorkerTimeoutClock } from './WorkerTimeoutClock.js';

/**
 * The training loop's wait for enough ready workers. Whatever could end it (a worker becoming
 * ready, an abort, a stop request) calls `wake()`, and the wait looks again; meanwhile the
 * --worker-timeout clock runs, and a status line says now and then how many are still missing.
 */
export class ReadyWait {
  private waiters: (() => void)[] = [];

  constructor(
    private readonly workers: WorkerPool,
    private readonly clock: WorkerTimeoutClock,
    private readonly log: Log,
    private readonly statusEveryMs: number,
  ) {}

  /** Something changed: every wait looks again. */
  wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `count` workers are ready; rejects with the error `interrupted()` returns as soon as it returns one. */
  async until(count: number, interrupted: () => Error | undefined): Promise<void> {
    // No silent wait: say now and then how many workers are still missing.
    const status = setInterval(() => this.log.info('still waiting for workers', { ready: this.workers.ready.length, needed: count }), this.statusEveryMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          const error = interrupted();
          if (error) return reject(error);
          const ready = this.workers.ready.length;
          if (ready >= count) return resolve();
          this.clock.start(`only ${ready} of ${count} workers have been ready`);
          this.waiters.push(check);
        };
        check();
      });
    } finally {
      clearInterval(status);
    }
  }
}
