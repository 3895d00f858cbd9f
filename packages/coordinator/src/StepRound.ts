import { NumericError, ProtocolError, type BatchPlan, type ChunkResult } from '@adamant/core';
import { assignChunks } from './assignChunks.js';
import type { ParameterServer } from './ParameterServer.js';

/** What a round needs to know of a worker: who it is, for bookkeeping and messages. */
export interface RoundWorker {
  readonly id: number;
  readonly name: string;
}

/** The parts of the parameter server a round feeds. */
export type GradientSink = Pick<ParameterServer, 'beginStep' | 'decode' | 'nonFinite' | 'has' | 'add' | 'complete'>;

export interface StepRoundOptions<W extends RoundWorker> {
  step: number;
  plan: BatchPlan;
  metricCount: number;
  sink: GradientSink;
  /** The workers ready to take chunks now; asked at every hand-out. */
  workers: () => readonly W[];
  /** Sends chunks `indices` of this round to `worker` (one step message). */
  dispatch: (worker: W, indices: number[]) => void;
  /** No worker is ready: `chunks` chunks wait as orphans until one joins. */
  starved?: (chunks: number) => void;
  /** A chunk result was accepted `ms` after its chunk was handed out (for the straggler threshold). */
  timed?: (ms: number) => void;
}

/** A chunk handed to an idle worker while another still computes it. */
export interface Duplicate<W> {
  index: number;
  from: W;
  to: W;
  waitedMs: number;
}

/** How a chunk result was taken. */
export type Receipt = 'accepted' | 'late' | 'duplicate' | 'not owed';

/**
 * One synchronous step: hands the batch's chunks to the ready workers, keeps which worker owes
 * which chunk, moves the chunks of a worker that leaves to the others (or keeps them as orphans
 * until one joins), checks every result and feeds it to the gradient sink, and sums the losses
 * and metrics per chunk. `done` resolves when every chunk is in: no chunk is lost, and none is
 * counted twice.
 */
export class StepRound<W extends RoundWorker> {
  readonly step: number;
  readonly plan: BatchPlan;
  /** Per-chunk loss and metric sums, added up in chunk order by whoever reports them. */
  readonly lossSums: Float64Array;
  readonly metricSums: Float64Array[];
  readonly done: Promise<void>;
  private readonly owed = new Map<W, Set<number>>();
  private readonly orphans: number[] = [];
  /** When each chunk was (last) handed out, for its latency and the straggler check. */
  private readonly handedAt = new Map<number, number>();
  /** Chunks already given to a second worker: each is duplicated at most once. */
  private readonly duplicated = new Set<number>();
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private settled = false;

  constructor(private readonly options: StepRoundOptions<W>) {
    this.step = options.step;
    this.plan = options.plan;
    this.lossSums = new Float64Array(options.plan.chunks.length);
    this.metricSums = Array.from({ length: options.metricCount }, () => new Float64Array(options.plan.chunks.length));
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A failed round may never be awaited (the job is ending); its rejection is not unhandled.
    this.done.catch(() => {});
  }

  /** Starts the round: every chunk goes to the ready workers. */
  start(): void {
    this.options.sink.beginStep(this.plan.chunks.length, this.plan.size);
    this.hand(this.plan.chunks.map((c) => c.index));
  }

  /** The chunks `worker` owes, ascending. */
  owedBy(worker: W): number[] {
    return [...(this.owed.get(worker) ?? [])].sort((a, b) => a - b);
  }

  /** Chunks waiting for a worker to join. */
  get orphanCount(): number {
    return this.orphans.length;
  }

  /** A worker became ready: it takes the orphans, if any. */
  workerJoined(): void {
    if (this.orphans.length > 0) this.hand(this.orphans.splice(0));
  }

  /** A worker left: the chunks it owed go to the others. Returns how many. */
  workerLeft(worker: W): number {
    const owed = this.owedBy(worker);
    this.owed.delete(worker);
    if (owed.length > 0 && !this.settled) this.hand(owed);
    return owed.length;
  }

  /**
   * Takes a chunk result from `worker`. Results for another step, for a chunk the worker does not
   * owe, or for a chunk already in are not counted. Throws ProtocolError for a malformed result
   * and NumericError for a non-finite one (the weights stay untouched).
   */
  receive(worker: W, message: ChunkResult): Receipt {
    const peer = `worker ${worker.name}`;
    if (message.step !== this.step) return 'late';
    const owed = this.owed.get(worker);
    if (!owed?.has(message.index)) return 'not owed';
    if (this.options.sink.has(message.index)) {
      owed.delete(message.index);
      return 'duplicate';
    }
    const planned = this.plan.chunks[message.index]!;
    if (message.samples !== planned.rows.length) {
      throw new ProtocolError(`${peer}: chunk ${message.index} reports ${message.samples} samples, it has ${planned.rows.length}`);
    }
    if (message.metricSums.length !== this.metricSums.length) {
      throw new ProtocolError(`${peer}: chunk ${message.index} has ${message.metricSums.length} metric sums, expected ${this.metricSums.length}`);
    }
    const part = this.options.sink.decode(message, peer);
    const nonFinite = this.options.sink.nonFinite(part) ?? (Number.isFinite(message.lossSum) ? undefined : `loss is ${message.lossSum}`);
    if (nonFinite) {
      throw new NumericError(
        `step ${this.step} (epoch ${this.plan.epoch + 1}, batch ${this.plan.batch + 1}), chunk ${message.index} from ${peer}: ${nonFinite}; the weights were not updated. Lower the learning rate or check the data`,
      );
    }
    // The first result wins: nobody owes this chunk any more (a duplicate's twin is ignored later).
    for (const chunks of this.owed.values()) chunks.delete(message.index);
    const handedAt = this.handedAt.get(message.index);
    if (handedAt !== undefined) this.options.timed?.(performance.now() - handedAt);
    this.lossSums[message.index] = message.lossSum;
    message.metricSums.forEach((v, i) => {
      this.metricSums[i]![message.index] = v;
    });
    this.options.sink.add(message.index, part);
    if (this.options.sink.complete) this.settle();
    return 'accepted';
  }

  /** Chunks not yet in, each with the workers computing it. */
  outstanding(): { index: number; workers: W[] }[] {
    const out: { index: number; workers: W[] }[] = [];
    for (const chunk of this.plan.chunks) {
      if (this.options.sink.has(chunk.index)) continue;
      out.push({ index: chunk.index, workers: [...this.owed].filter(([, owed]) => owed.has(chunk.index)).map(([w]) => w) });
    }
    return out;
  }

  /**
   * Gives chunks that have been out longer than `afterMs` to ready workers that owe nothing, one
   * chunk each, lowest index first (the reducer waits on it). Every result of a chunk is bitwise
   * the same, so whichever comes first is taken and nothing changes but the time.
   */
  duplicateStragglers(afterMs: number): Duplicate<W>[] {
    if (this.settled) return [];
    const now = performance.now();
    const idle = this.options.workers().filter((w) => (this.owed.get(w)?.size ?? 0) === 0);
    const made: Duplicate<W>[] = [];
    for (const { index, workers } of this.outstanding()) {
      const to = idle[0];
      if (!to) break;
      const waitedMs = now - (this.handedAt.get(index) ?? now);
      const from = workers[0];
      if (!from || workers.length > 1 || this.duplicated.has(index) || waitedMs < afterMs) continue;
      idle.shift();
      this.duplicated.add(index);
      const owed = this.owed.get(to) ?? new Set<number>();
      this.owed.set(to, owed.add(index));
      this.options.dispatch(to, [index]);
      made.push({ index, from, to, waitedMs });
    }
    return made;
  }

  /** Ends the round with `error` (the job is failing or asked to stop). */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  /** The batch's summed loss, added in chunk order so it is as reproducible as the weights. */
  lossSum(): number {
    let sum = 0;
    for (const v of this.lossSums) sum += v;
    return sum;
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }

  private hand(chunks: number[]): void {
    const ready = this.options.workers();
    if (ready.length === 0) {
      this.orphans.push(...chunks);
      this.options.starved?.(chunks.length);
      return;
    }
    for (const [worker, indices] of assignChunks(chunks, ready)) {
      const owed = this.owed.get(worker) ?? new Set<number>();
      this.owed.set(worker, owed);
      const now = performance.now();
      for (const index of indices) {
        owed.add(index);
        this.handedAt.set(index, now);
      }
      this.options.dispatch(worker, indices);
    }
  }
}
