/**
 * Where one step's wall time went, in milliseconds; the four parts add up to the step's time.
 * `compute + waiting` is the slowest worker's compute time: `compute` what every worker computed
 * at least (the least busy worker's time), `waiting` how much longer the slowest one computed,
 * which the others spent idle. `communication` is the rest of the gather (sending the weights and
 * rows, the results' way back, decoding and checking them). `update` runs after the last result:
 * the optimizer's step on the server, its serial part (with an embedding, the table rows the next
 * step does not read are updated while that step computes, outside this split). Without compute times from the workers (an older worker),
 * compute and waiting are null and communication is the whole gather.
 */
export interface StepTimeSplit {
  step: number;
  compute: number | null;
  waiting: number | null;
  communication: number;
  update: number;
  total: number;
}

/** What one worker did in the step being gathered. */
export interface WorkerShare {
  /** Its chunks' compute times, summed (it computes them one after another). */
  computeMs: number;
  /** Whether every one of its results said how long it took. */
  timed: boolean;
  /** When its last result arrived (performance.now()). */
  lastArrivalAt: number;
}

/**
 * Gathers the chunk results of the training step in progress, by worker, and splits the step's
 * time when it ends (see StepTimeSplit). Results of an earlier step (late, or duplicates) are
 * ignored; the first result of a later step starts a new gathering.
 */
export class StepTimeline {
  private step = -1;
  private readonly shares = new Map<number, WorkerShare>();

  /** A training chunk result of global step `step` (0-based, as on the wire) from worker `workerId`, arrived at `at`. */
  chunk(workerId: number, step: number, computeMs: number | undefined, at: number): void {
    if (step < this.step) return;
    if (step > this.step) {
      this.step = step;
      this.shares.clear();
    }
    const share = this.shares.get(workerId) ?? { computeMs: 0, timed: true, lastArrivalAt: at };
    share.computeMs += computeMs ?? 0;
    share.timed &&= computeMs !== undefined;
    share.lastArrivalAt = Math.max(share.lastArrivalAt, at);
    this.shares.set(workerId, share);
  }

  /** Step `step` (0-based) ended at `at` after `stepMs` ms: its split, or undefined when none of its results was seen. */
  finish(step: number, stepMs: number, at: number): StepTimeSplit | undefined {
    if (step !== this.step || this.shares.size === 0) return undefined;
    const split = splitStepTime(step, [...this.shares.values()], at - stepMs, at);
    this.shares.clear();
    return split;
  }
}

/** The split of a step that started at `startedAt` and ended at `endedAt`, given each worker's share (see StepTimeSplit). */
export function splitStepTime(step: number, shares: readonly WorkerShare[], startedAt: number, endedAt: number): StepTimeSplit {
  const total = Math.max(0, endedAt - startedAt);
  let gatheredAt = startedAt;
  for (const share of shares) gatheredAt = Math.max(gatheredAt, share.lastArrivalAt);
  const gather = Math.min(total, gatheredAt - startedAt);
  const update = total - gather;
  if (shares.length === 0 || shares.some((s) => !s.timed)) return { step, compute: null, waiting: null, communication: gather, update, total };
  let least = Number.POSITIVE_INFINITY;
  let most = 0;
  for (const { computeMs } of shares) {
    least = Math.min(least, computeMs);
    most = Math.max(most, computeMs);
  }
  // Clocks of different processes measure these: clamp so the parts still add up to the gather.
  const compute = Math.min(least, gather);
  const waiting = Math.min(most - least, gather - compute);
  return { step, compute, waiting, communication: gather - compute - waiting, update, total };
}
