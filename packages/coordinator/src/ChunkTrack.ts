import type { ChunkGradientPart } from '@adamant/core';
import type { Opinion } from './Verification.js';

/**
 * What a step round knows of one chunk: who computes it (since when), the results held until two
 * agree (verified chunks), and the result applied. Its methods keep those facts consistent; the
 * round decides what happens next.
 */
export class ChunkTrack<W extends { readonly backend?: string }> {
  /** The workers computing it now, with when each was handed it. */
  readonly computing = new Map<W, number>();
  /** Checked results held until another agrees (verified chunks only; a plain chunk's first result is applied). */
  opinions: Opinion<W>[] = [];
  /** The backend every result of a verified chunk must come from: its first worker's. */
  backend: string | undefined;
  /** Two of its results differed. */
  mismatched = false;
  /** Already given to a second worker as a straggler: never twice. */
  duplicated = false;
  /** The first worker whose result failed a numeric check under --max-chunk-grad-norm (it was dropped). */
  suspect: { worker: W; problem: string } | undefined;
  /** The result in the sum; `part` kept only while a quarantine may take it back. */
  applied: { worker: W; agreed: boolean; part: ChunkGradientPart | undefined } | undefined;

  constructor(
    readonly index: number,
    /** Equal results it takes: 2 for a verified chunk, else 1. */
    public need: 1 | 2,
  ) {}

  /** How many workers should compute it at once: 2 for a verified chunk with no result yet, else 1. */
  get wanted(): number {
    return this.need === 2 && this.opinions.length === 0 ? 2 : 1;
  }

  /** Not in the sum, nobody computes it and no result is held: it goes to whichever worker is ready. */
  unassigned(): boolean {
    return !this.applied && this.computing.size === 0 && this.opinions.length === 0;
  }

  /** Whether `worker` may compute it: not already computing it, no result from it, and (`sameBackend`) on its backend. */
  accepts(worker: W, sameBackend: boolean): boolean {
    if (this.computing.has(worker) || this.opinions.some((o) => o.worker === worker)) return false;
    return !sameBackend || this.backend === undefined || worker.backend === this.backend;
  }

  /** Handed to `worker` at `at`; a worker on probation makes it a verified chunk. */
  hand(worker: W, at: number, onProbation: boolean): void {
    this.computing.set(worker, at);
    if (onProbation) this.need = 2;
    this.backend ??= worker.backend;
  }

  /** The chunk is in the sum: nobody computes it any more. */
  apply(opinion: Opinion<W>, agreed: boolean, keepPart: boolean): void {
    this.applied = { worker: opinion.worker, agreed, part: keepPart ? opinion.part : undefined };
    this.computing.clear();
    this.opinions = [];
  }

  /** Drops `worker`'s held result, if any; returns whether there was one. */
  discardOpinionsOf(worker: W): boolean {
    const before = this.opinions.length;
    this.opinions = this.opinions.filter((o) => o.worker !== worker);
    // The results left never agreed (else the chunk would be applied): two or more still disagree.
    this.mismatched = this.opinions.length >= 2;
    return this.opinions.length !== before;
  }

  /** With nobody computing it and no result held, its next worker may be on any backend. */
  forgetBackendIfIdle(): void {
    if (!this.applied && this.computing.size === 0 && this.opinions.length === 0) this.backend = undefined;
  }
}
