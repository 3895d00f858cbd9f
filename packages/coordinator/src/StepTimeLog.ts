import type { ChunkResult, Log } from '@adamant/core';
import { StepTimeline } from './monitor/StepTimeline.js';
import type { RoundKind } from './stepRoundOptions.js';

/** Milliseconds to a tenth, for the log. */
const ms = (value: number) => +value.toFixed(1);

/**
 * Where each training step's time went, logged at debug level as 'step timeline' once its update
 * is done (milliseconds):
 *
 * - `sendMs`: building and sending the step's messages;
 * - `computeMs`, `waitingMs`: what every worker computed at least, and how much longer the slowest
 *   one computed (from the `computeMs` of the chunk results; null from workers that do not say);
 * - `transferMs`: the rest of the gather (the bytes' way out and back, decoding and checking);
 * - `updateMs`: the step's update after its last result: the serial part, when it was split;
 * - `deferredMs`: the previous step's deferred update, run while this step's chunks computed;
 * - `serialMs`: from the previous step's last result until this step's messages were sent, the
 *   time the workers waited on the coordinator (absent after validation or a resume);
 * - `stepMs`: from this step's first message to the end of its update.
 */
export class StepTimeLog {
  private readonly timeline = new StepTimeline();
  private startedAt = 0;
  private sentAt = 0;
  private gatheredAt = 0;
  private deferredMs = 0;
  /** The training step whose update came last, and when its last result came in; cleared by validation. */
  private previous: { step: number; gatheredAt: number } | undefined;

  constructor(private readonly log: Log) {}

  /** A chunk result from worker `workerId`, arrived now. */
  chunk(workerId: number, message: ChunkResult): void {
    if (message.evaluate !== true) this.timeline.chunk(workerId, message.step, message.computeMs, performance.now());
  }

  /** A round's messages went out: `start()` ran from `startedAt` until now. */
  sent(round: { readonly step: number; readonly kind: RoundKind }, startedAt: number): void {
    if (round.kind === 'evaluate') {
      this.previous = undefined;
      return;
    }
    this.startedAt = startedAt;
    this.sentAt = performance.now();
  }

  /** Every chunk of the training round is in; the previous update's deferred part took `deferredMs`. */
  gathered(deferredMs: number): void {
    this.gatheredAt = performance.now();
    this.deferredMs = deferredMs;
  }

  /** Training step `step`'s update took `updateMs`: logs the step's timeline. */
  updated(step: number, updateMs: number): void {
    const gatherMs = this.gatheredAt - this.startedAt;
    const sendMs = this.sentAt - this.startedAt;
    const split = this.timeline.finish(step, gatherMs, this.gatheredAt);
    const compute = split?.compute ?? null;
    const waiting = split?.waiting ?? null;
    const transfer = (split?.communication ?? gatherMs) - sendMs;
    const previous = this.previous?.step === step - 1 ? this.previous : undefined;
    this.log.debug('step timeline', {
      step,
      sendMs: ms(sendMs),
      computeMs: compute === null ? null : ms(compute),
      waitingMs: waiting === null ? null : ms(waiting),
      transferMs: ms(Math.max(0, transfer)),
      updateMs: ms(updateMs),
      deferredMs: ms(this.deferredMs),
      ...(previous ? { serialMs: ms(this.sentAt - previous.gatheredAt) } : {}),
      stepMs: ms(performance.now() - this.startedAt),
    });
    this.previous = { step, gatheredAt: this.gatheredAt };
  }
}
