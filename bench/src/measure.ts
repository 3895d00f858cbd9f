/** Nanoseconds per call of `fn`, over one round of calls lasting at least `minMs`. */
async function timeRound(fn: () => unknown | Promise<unknown>, minMs: number): Promise<number> {
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  do {
    await fn();
    calls++;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < BigInt(minMs) * 1_000_000n);
  return Number(elapsed) / calls;
}

/** The middle sample, or the mean of the middle two. */
export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** What sideBySide measured: each candidate's median time per call, and the ratios of their times round by round. */
export interface SideBySide<K extends string> {
  /** Median nanoseconds per call. */
  ns: Record<K, number>;
  /** The median over rounds of time(a) / time(b) in the same round: how many times faster b is than a. */
  ratio(a: K, b: K): number;
}

/**
 * Times candidates in alternation (one warm-up round each unless `warmUp` is false, then each
 * round times every candidate in turn). On a machine whose load comes and goes, each round's
 * candidates see about the same load, so the per-round ratios hold where the times alone move.
 */
export async function sideBySide<K extends string>(
  candidates: Record<K, () => unknown | Promise<unknown>>,
  { rounds = 5, minMs = 200, warmUp = true } = {},
): Promise<SideBySide<K>> {
  const names = Object.keys(candidates) as K[];
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let round = warmUp ? -1 : 0; round < rounds; round++) {
    for (const name of names) {
      const ns = await timeRound(candidates[name], minMs);
      if (round >= 0) samples.get(name)!.push(ns);
    }
  }
  const of = (name: K) => samples.get(name)!;
  return {
    ns: Object.fromEntries(names.map((name) => [name, median(of(name))])) as Record<K, number>,
    ratio: (a, b) => median(of(a).map((ns, round) => ns / of(b)[round]!)),
  };
}

/** What `alternate` measured: each candidate's median rate, and the median of the per-round ratios. */
export interface Alternation<K extends string> {
  /** Median of each candidate's rates (higher is faster), and every round's rate. */
  median: Record<K, number>;
  rates: Record<K, number[]>;
  /** The median over rounds of rate(a) / rate(b) in the same round. */
  ratio(a: K, b: K): number;
}

/**
 * Runs one-shot measurements (a whole process run that reports its own rate) in alternation,
 * `rounds` times: a, b, a, b, ... Each call returns a rate (higher is faster). Like sideBySide,
 * the ratio is the median of per-round ratios, so slow rounds of a loaded machine cancel out.
 */
export async function alternate<K extends string>(candidates: Record<K, () => number | Promise<number>>, rounds: number): Promise<Alternation<K>> {
  const names = Object.keys(candidates) as K[];
  const rates = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) rates[name].push(await candidates[name]());
  }
  return {
    median: Object.fromEntries(names.map((name) => [name, median(rates[name])])) as Record<K, number>,
    rates,
    ratio: (a, b) => median(rates[a].map((rate, round) => rate / rates[b][round]!)),
  };
}

const started = performance.now();

/** A progress line on stderr, with the seconds since the run started, so that stdout carries only the table. */
export function progress(line: string): void {
  process.stderr.write(`bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s: ${line}\n`);
}
