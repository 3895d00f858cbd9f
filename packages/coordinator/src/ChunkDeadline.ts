/** The chunk a worker has held longest without answering, and since when. */
export interface HeldChunk {
  step: number;
  index: number;
  /** When it was handed out, or when the worker last answered, whichever is later (ms). */
  since: number;
}

/**
 * The `--chunk-timeout` clock, per worker: since when it has held work without returning a result
 * that counted (one for a chunk it still held). A worker is overdue when it was handed a chunk
 * longer ago than the deadline and has returned no such result since, even if an idle worker has
 * computed that chunk meanwhile (a straggler copy). So a peer that takes chunks and never answers
 * is dropped although idle workers cover for it, and stale frames do not keep it alive; a slow
 * worker whose results still count now and then is not. Lives as long as the job.
 */
export class ChunkDeadline<W> {
  private readonly held = new Map<W, HeldChunk>();

  /** Chunk `index` of step `step` was handed to `worker` at `at`; an older unanswered one keeps the clock. */
  handed(worker: W, step: number, index: number, at: number): void {
    if (!this.held.has(worker)) this.held.set(worker, { step, index, since: at });
  }

  /** `worker` returned a result that counted at `at`; `next` is the chunk it still computes, if any, whose clock starts now. */
  answered(worker: W, at: number, next?: { step: number; index: number }): void {
    if (next) this.held.set(worker, { ...next, since: at });
    else this.held.delete(worker);
  }

  /** `worker` left or was dropped. */
  forget(worker: W): void {
    this.held.delete(worker);
  }

  /** The workers that have held a chunk longer than `deadlineMs` at `now`, with that chunk. */
  overdue(deadlineMs: number, now: number): { worker: W; chunk: HeldChunk; heldMs: number }[] {
    const late: { worker: W; chunk: HeldChunk; heldMs: number }[] = [];
    for (const [worker, chunk] of this.held) if (now - chunk.since > deadlineMs) late.push({ worker, chunk, heldMs: now - chunk.since });
    return late;
  }
}
