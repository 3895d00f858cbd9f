import { mixSeed, SEED_PURPOSE, type ChunkGradientPart } from '@adamant/core';

/** One worker's checked result for a chunk: what verification compares, bit for bit. */
export interface Opinion<W> {
  worker: W;
  part: ChunkGradientPart;
  lossSum: number;
  /** The chunk's metric statistics (metrics.ts), compared to the bit like the rest. */
  metricSums: readonly number[];
}

/** Results that agree, the workers that gave them, and the workers they contradict. */
export interface Verdict<W> {
  agreed: Opinion<W>;
  agreeing: W[];
  contradicted: W[];
}

/** What verification did over a run (the final JSON and the epoch log report it). */
export interface VerificationCounts {
  /** Chunks two workers computed to the same bits before they were applied. */
  verified: number;
  /** Chunks on which two workers' results differed. */
  mismatches: number;
  /** Chunks meant to be verified but applied on one result: no second worker on that backend was ready. */
  unverifiable: number;
  /** Workers quarantined for a result the others contradicted. */
  quarantined: string[];
}

const TWO_TO_32 = 2 ** 32;

/**
 * `--verify FRACTION`: which chunks two workers compute, and who is trusted. Every chunk's
 * gradient is bitwise deterministic on a given backend, so two honest workers on the same backend
 * return the same bits, and a result that differs from two others that agree is wrong.
 *
 * A chunk is verified when the seed picks it (`mixSeed(seed, SEED_PURPOSE.verify, step, index)`,
 * the fraction of chunks asked for), or when a worker on probation computes it: every chunk of a
 * worker is verified until one of its results has agreed with another worker's. A worker that
 * lies from its first chunk therefore never has a result applied. Lives as long as the job.
 */
export class Verification<W extends { readonly name: string }> {
  readonly counts: VerificationCounts = { verified: 0, mismatches: 0, unverifiable: 0, quarantined: [] };
  private readonly vouched = new WeakSet<W>();

  constructor(
    readonly fraction: number,
    private readonly seed: number,
  ) {
    if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`Verification: the fraction must be in (0, 1], got ${fraction}`);
  }

  /** Whether the seed picks chunk `index` of step `step` for verification. */
  sampled(step: number, index: number): boolean {
    return mixSeed(this.seed, SEED_PURPOSE.verify, step, index) / TWO_TO_32 < this.fraction;
  }

  /** Whether `worker` is past probation: one of its results agreed with another worker's. */
  trusts(worker: W): boolean {
    return this.vouched.has(worker);
  }

  /** `worker`'s result agreed with another worker's. */
  vouch(worker: W): void {
    this.vouched.add(worker);
  }

  /**
   * A chunk's results so far: once two agree to the bit, the chunk counts as verified, the workers
   * that agree are past probation, and those they contradict are named quarantined. Undefined
   * while no two agree.
   */
  judge(opinions: readonly Opinion<W>[]): Verdict<W> | undefined {
    const agreed = agreedResult(opinions);
    if (!agreed) return undefined;
    const agreeing: W[] = [];
    const contradicted: W[] = [];
    for (const opinion of opinions) (sameResult(opinion, agreed) ? agreeing : contradicted).push(opinion.worker);
    this.counts.verified++;
    for (const worker of agreeing) this.vouch(worker);
    for (const worker of contradicted) this.counts.quarantined.push(worker.name);
    return { agreed, agreeing, contradicted };
  }
}

/** Whether two results are equal to the bit: gradient bytes (dense, embedding rows and values), loss and metric statistics. */
export function sameResult<W>(a: Opinion<W>, b: Opinion<W>): boolean {
  if (!Object.is(a.lossSum, b.lossSum) || a.metricSums.length !== b.metricSums.length) return false;
  for (let k = 0; k < a.metricSums.length; k++) if (!Object.is(a.metricSums[k], b.metricSums[k])) return false;
  if (!sameBytes(a.part.dense, b.part.dense)) return false;
  const sa = a.part.sparse;
  const sb = b.part.sparse;
  if (!sa || !sb) return sa === sb;
  return sameBytes(sa.rows, sb.rows) && sameBytes(sa.values, sb.values);
}

/** The first result that another result equals, if any: the one verification applies. */
export function agreedResult<W>(opinions: readonly Opinion<W>[]): Opinion<W> | undefined {
  for (let i = 0; i < opinions.length; i++) {
    for (let j = i + 1; j < opinions.length; j++) if (sameResult(opinions[i]!, opinions[j]!)) return opinions[i];
  }
  return undefined;
}

function sameBytes(a: Float32Array | Uint32Array, b: Float32Array | Uint32Array): boolean {
  // Buffer.equals is a memcmp over views: no copy, and -0 differs from 0 as it should.
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
