import { type BatchPlan, type ChunkResult, metricStatisticsLength } from '@adamant/core';
import { assignChunks } from './assignChunks.js';
import { ChunkTrack } from './ChunkTrack.js';
import { checkChunkResult, stopOnConfirmedProblem } from './checkChunkResult.js';
import type { Duplicate, Receipt, RoundKind, RoundWorker, StepRoundOptions } from './stepRoundOptions.js';
import type { Opinion, Verdict } from './Verification.js';

export type { Duplicate, GradientSink, Receipt, RoundKind, RoundWorker, StepRoundOptions } from './stepRoundOptions.js';

/**
 * One synchronous step: hands the batch's chunks to the ready workers, keeps which worker computes
 * which chunk, moves the chunks of a worker that leaves to the others (or keeps them as orphans
 * until one joins), checks every result, and feeds each chunk to the gradient sink once: the first
 * result, or with `--verify` the first two that agree to the bit. A worker whose result two others
 * contradict is quarantined, and any result it had applied this step is taken back. `done`
 * resolves when every chunk is in: no chunk is lost, and none is counted twice.
 *
 * A forward-only round (kind 'evaluate': validation) runs the same way, on a sink that sums no
 * gradient; its results must carry none, and only its loss and metric statistics count.
 */
export class StepRound<W extends RoundWorker> {
  readonly step: number;
  readonly plan: BatchPlan;
  readonly kind: RoundKind;
  /** Per-chunk loss sums, added up in chunk order by whoever reports them. */
  readonly lossSums: Float64Array;
  /** Per-chunk metric statistics: one array over the chunks for each statistic (metrics.ts), summed in chunk order likewise. */
  readonly metricSums: Float64Array[];
  readonly done: Promise<void>;
  private readonly tracks: ChunkTrack<W>[];
  /** Chunks waiting for any worker to join. */
  private readonly orphans = new Set<number>();
  /** Chunks with disagreeing results, waiting for a worker that can decide. */
  private readonly undecided = new Set<number>();
  /** Workers that left or were dropped: they get nothing more from this round. */
  private readonly gone = new Set<W>();
  private readonly now: () => number;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private settled = false;

  constructor(private readonly options: StepRoundOptions<W>) {
    this.step = options.step;
    this.plan = options.plan;
    this.kind = options.kind ?? 'train';
    this.now = options.now ?? (() => performance.now());
    const chunks = options.plan.chunks.length;
    this.lossSums = new Float64Array(chunks);
    this.metricSums = Array.from({ length: metricStatisticsLength(options.metricNames) }, () => new Float64Array(chunks));
    const sampled = (index: number) => options.verification?.sampled(options.step, index) === true;
    this.tracks = options.plan.chunks.map((chunk) => new ChunkTrack<W>(chunk.index, sampled(chunk.index) ? 2 : 1));
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
    this.handOut(this.tracks.map((t) => t.index));
  }

  /** The chunks `worker` computes, ascending. */
  owedBy(worker: W): number[] {
    return this.tracks.filter((t) => t.computing.has(worker)).map((t) => t.index);
  }

  /** Chunks waiting for a worker to join. */
  get orphanCount(): number {
    return this.orphans.size;
  }

  /** A worker became ready: it takes the orphans, and may decide chunks whose results disagree. */
  workerJoined(): void {
    const waiting = [...this.orphans, ...this.undecided];
    this.orphans.clear();
    this.undecided.clear();
    if (waiting.length > 0) this.handOut(waiting);
  }

  /** A worker left: the chunks it computed go to the others. Returns how many. */
  workerLeft(worker: W): number {
    return this.forget(worker, false);
  }

  /** Drops `worker` from the job (a missed deadline, a refused chunk, a contradicted result): its chunks go to others. */
  dropWorker(worker: W, reason: string, quarantine = false): void {
    if (this.gone.has(worker)) return;
    this.options.drop?.(worker, reason, quarantine);
    this.forget(worker, quarantine);
  }

  /**
   * Takes a chunk result from `worker`. Results for another step or for a chunk the worker does
   * not compute are not counted. Throws ProtocolError for a malformed result, and NumericError
   * for a non-finite one (the weights stay untouched) unless `maxChunkGradNorm` asks for a second
   * worker's opinion first.
   */
  receive(worker: W, message: ChunkResult): Receipt {
    // A training round and the validation round after it share the step (the same weights): the mark tells them apart.
    if (message.step !== this.step || (message.evaluate === true) !== (this.kind === 'evaluate')) return 'late';
    const track = this.tracks[message.index];
    const handedAt = track?.computing.get(worker);
    if (!track || handedAt === undefined || this.settled) return 'not owed';
    const peer = `worker ${worker.name}`;
    const expected = { samples: this.plan.chunks[track.index]!.rows.length, metricNames: this.options.metricNames, maxGradNormPerSample: this.options.maxChunkGradNorm };
    const checked = checkChunkResult(worker, peer, message, expected, this.options.sink);
    if ('problem' in checked) return this.suspect(track, worker, checked.problem, checked.nonFinite);
    track.computing.delete(worker);
    this.options.timed?.(this.now() - handedAt);
    track.opinions.push(checked.opinion);
    const batches = new Map<W, number[]>();
    this.advance(track, batches);
    this.dispatch(batches);
    if (this.gone.has(worker)) return 'refused';
    return track.applied ? 'accepted' : 'held';
  }

  /** Chunks not yet in, each with the workers computing it (in the order they were handed it). */
  outstanding(): { index: number; workers: W[] }[] {
    return this.tracks.filter((t) => !t.applied).map((t) => ({ index: t.index, workers: [...t.computing.keys()] }));
  }

  /**
   * Gives chunks that have been out longer than `afterMs` to ready workers that compute nothing,
   * one chunk each, lowest index first (the reducer waits on it). Every result of a chunk is
   * bitwise the same on a backend, so whichever comes first is taken and nothing changes but time.
   */
  duplicateStragglers(afterMs: number): Duplicate<W>[] {
    if (this.settled) return [];
    const now = this.now();
    const idle = this.ready().filter((w) => this.load(w) === 0);
    const made: Duplicate<W>[] = [];
    const batches = new Map<W, number[]>();
    for (const track of this.tracks) {
      if (idle.length === 0) break;
      const [only, ...others] = track.computing;
      if (track.applied || track.duplicated || !only || others.length > 0) continue;
      const [from, handedAt] = only;
      const waitedMs = now - handedAt;
      const to = idle.find((w) => track.accepts(w, this.options.verification !== undefined));
      if (waitedMs < afterMs || !to) continue;
      idle.splice(idle.indexOf(to), 1);
      track.duplicated = true;
      this.ask(to, track, batches);
      made.push({ index: track.index, from, to, waitedMs });
    }
    this.dispatch(batches);
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

  private where(index: number): string {
    if (this.kind === 'evaluate') return `validation after epoch ${this.plan.epoch + 1} (weights of step ${this.step}), chunk ${index}`;
    return `step ${this.step} (epoch ${this.plan.epoch + 1}, batch ${this.plan.batch + 1}), chunk ${index}`;
  }

  private ready(): W[] {
    return this.options.workers().filter((w) => !this.gone.has(w));
  }

  private load(worker: W): number {
    let n = 0;
    for (const track of this.tracks) if (track.computing.has(worker)) n++;
    return n;
  }

  /** A result whose numbers fail a check: it stops the job (throws), or costs its worker the connection. */
  private suspect(track: ChunkTrack<W>, worker: W, problem: string, nonFinite: boolean): Receipt {
    const where = this.where(track.index);
    const othersReady = this.ready().some((w) => w !== worker);
    stopOnConfirmedProblem({ where, worker, problem, nonFinite, bounded: this.options.maxChunkGradNorm !== undefined, earlier: track.suspect, othersReady });
    track.suspect = { worker, problem };
    this.dropWorker(worker, `${where}: ${problem}`);
    return 'refused';
  }

  /** Decides what a chunk needs next: applied, another worker's result, or a wait. */
  private advance(track: ChunkTrack<W>, batches: Map<W, number[]>): void {
    if (track.applied || this.settled) return;
    const verification = this.options.verification;
    if (track.need === 1 && track.opinions[0]) {
      this.apply(track, track.opinions[0], false);
      return;
    }
    if (track.need === 2 && verification) {
      const verdict = verification.judge(track.opinions);
      if (verdict) {
        this.applyAgreed(track, verdict);
        return;
      }
      if (track.opinions.length >= 2 && !track.mismatched) {
        track.mismatched = true;
        verification.counts.mismatches++;
        this.options.mismatch?.(track.index, track.opinions.map((o) => o.worker));
      }
    }
    for (let missing = track.wanted - track.computing.size; missing > 0; missing--) {
      const worker = this.candidate(track);
      if (!worker) break;
      this.ask(worker, track, batches);
    }
    if (track.computing.size > 0) return;
    const [first] = track.opinions;
    if (!first) {
      this.orphans.add(track.index);
      this.options.starved?.(1);
    } else if (!track.mismatched) {
      // Verification wanted, but no second worker on this backend is ready: applied on one result, and counted.
      if (verification) verification.counts.unverifiable++;
      this.options.unverifiable?.(track.index, first.worker);
      this.apply(track, first, false);
    } else {
      this.undecided.add(track.index);
      this.options.undecided?.(track.index, track.opinions.map((o) => o.worker));
    }
  }

  /** Two results agree: the workers they contradict are quarantined first (taking back what they applied), then the chunk is applied. */
  private applyAgreed(track: ChunkTrack<W>, { agreed, agreeing, contradicted }: Verdict<W>): void {
    track.opinions = track.opinions.filter((o) => !contradicted.includes(o.worker));
    const reason = `${this.where(track.index)}: its result differs from those of ${agreeing.map((w) => w.name).join(' and ')}, which agree (--verify)`;
    for (const worker of contradicted) this.dropWorker(worker, reason, true);
    this.apply(track, agreed, true);
  }

  private apply(track: ChunkTrack<W>, opinion: Opinion<W>, agreed: boolean): void {
    // A quarantine may have to take the result back, so with verification the part is kept until the step ends.
    track.apply(opinion, agreed, this.options.verification !== undefined);
    this.lossSums[track.index] = opinion.lossSum;
    opinion.metricSums.forEach((v, i) => {
      this.metricSums[i]![track.index] = v;
    });
    this.options.sink.add(track.index, opinion.part);
    if (this.options.sink.complete) this.settle();
  }

  /**
   * Forgets a worker that left or was dropped, and hands its chunks to others. A quarantined one's
   * results are discarded too: those held for verification, and those it applied unverified this
   * step, which are taken out of the sum by summing the others again (in chunk order, so the
   * result is the one it would have been without them).
   */
  private forget(worker: W, discardResults: boolean): number {
    if (this.gone.has(worker)) return 0;
    this.gone.add(worker);
    const owed = this.owedBy(worker);
    const affected = new Set(owed);
    for (const index of owed) this.tracks[index]!.computing.delete(worker);
    if (discardResults) {
      for (const track of this.tracks) if (track.discardOpinionsOf(worker)) affected.add(track.index);
      const taken = this.tracks.filter((t) => t.applied?.worker === worker && !t.applied.agreed);
      if (taken.length > 0) this.takeBack(taken);
      for (const track of taken) affected.add(track.index);
    }
    for (const index of affected) this.tracks[index]!.forgetBackendIfIdle();
    if (!this.settled && affected.size > 0) this.handOut([...affected].sort((a, b) => a - b));
    return owed.length;
  }

  /** Removes applied chunks from the sum: the sink starts the step again and takes every other applied chunk. */
  private takeBack(taken: ChunkTrack<W>[]): void {
    for (const track of taken) {
      track.applied = undefined;
      this.lossSums[track.index] = 0;
      for (const sums of this.metricSums) sums[track.index] = 0;
    }
    this.options.sink.beginStep(this.plan.chunks.length, this.plan.size);
    for (const track of this.tracks) if (track.applied?.part) this.options.sink.add(track.index, track.applied.part);
  }

  /** Hands chunks out: each unassigned one to a worker, in contiguous runs among the ready workers; then verified ones to as many more as they need. */
  private handOut(indices: number[]): void {
    if (this.settled) return;
    const batches = new Map<W, number[]>();
    const ready = this.ready();
    const plain = indices.filter((i) => this.tracks[i]!.unassigned());
    if (plain.length > 0 && ready.length === 0) {
      for (const index of plain) this.orphans.add(index);
      this.options.starved?.(plain.length);
    } else {
      for (const [worker, run] of assignChunks(plain, ready)) for (const index of run) this.ask(worker, this.tracks[index]!, batches);
    }
    for (const index of indices) if (this.tracks[index]!.need === 2) this.advance(this.tracks[index]!, batches);
    this.dispatch(batches);
  }

  /** The least loaded ready worker that may give chunk `track` another result. */
  private candidate(track: ChunkTrack<W>): W | undefined {
    let best: W | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const worker of this.ready()) {
      if (!track.accepts(worker, track.need === 2)) continue;
      const load = this.load(worker);
      if (load < bestLoad) [best, bestLoad] = [worker, load];
    }
    return best;
  }

  private ask(worker: W, track: ChunkTrack<W>, batches: Map<W, number[]>): void {
    // A worker on probation never has a result applied on its word alone.
    const onProbation = this.options.verification !== undefined && !this.options.verification.trusts(worker);
    track.hand(worker, this.now(), onProbation);
    const batch = batches.get(worker) ?? [];
    batches.set(worker, batch);
    batch.push(track.index);
  }

  private dispatch(batches: Map<W, number[]>): void {
    if (this.settled) return;
    for (const [worker, indices] of batches) this.options.dispatch(worker, indices.sort((a, b) => a - b));
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }
}
