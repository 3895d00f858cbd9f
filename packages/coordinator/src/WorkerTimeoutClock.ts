import { ConnectError, type AdamantError } from '@adamant/core';

/**
 * The `--worker-timeout` clock: runs while training is blocked on workers (too few before the
 * first step, or none ready during a step) and gives up with E_CONNECT when it runs out. A worker
 * becoming ready stops it; the next block starts it afresh.
 */
export class WorkerTimeoutClock {
  private timer: NodeJS.Timeout | undefined;

  /** `timeoutMs` undefined: wait for ever. `expire` receives the error to stop training with. */
  constructor(
    private readonly timeoutMs: number | undefined,
    private readonly expire: (error: AdamantError) => void,
  ) {}

  /** Training is blocked on workers because of `what`: starts the clock unless it runs already. */
  start(what: string): void {
    const timeout = this.timeoutMs;
    if (!timeout || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire(new ConnectError(`${what} for ${timeout / 1000} s (--worker-timeout); is \`adamant worker --connect\` running and able to reach this host?`));
    }, timeout);
  }

  /** A worker became ready (or the job ended): stops the clock. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }
}
