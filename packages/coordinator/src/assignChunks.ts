/**
 * Splits chunk indices among workers in contiguous runs, as evenly as possible: with 4 chunks
 * and 3 workers, [0], [1], [2, 3]. Which worker computes a chunk never changes its result, so
 * this only balances load.
 */
export function assignChunks<W>(chunks: readonly number[], workers: readonly W[]): Map<W, number[]> {
  const out = new Map<W, number[]>();
  if (workers.length === 0) return out;
  workers.forEach((w, k) => {
    const from = Math.floor((k * chunks.length) / workers.length);
    const to = Math.floor(((k + 1) * chunks.length) / workers.length);
    if (to > from) out.set(w, chunks.slice(from, to));
  });
  return out;
}
