/**
 * Small, fast, seedable PRNG (mulberry32). Adamant's promise of identical results for the same
 * seed rests on every random choice (shuffles, dropout masks) coming from here, keyed by
 * (seed, purpose, epoch, ...), never from Math.random.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The purpose keys of Adamant's random streams: the second part of the `mixSeed` key, so that
 * shuffles and dropout masks never share a stream. Every random stream of a run, and its key:
 *
 * - shuffle, the order of epoch `epoch`: `mixSeed(seed, SEED_PURPOSE.shuffle, epoch)` (data/plan.ts).
 * - dropout, chunk `chunkIndex` of step `step`: `chunkSeed = mixSeed(seed, SEED_PURPOSE.dropout, step, chunkIndex)`,
 *   sent with the chunk (coordinator); then per dropout layer `mixSeed(chunkSeed, layerIndex)` (worker).
 * - verification, whether chunk `chunkIndex` of step `step` is computed by two workers (`--verify`):
 *   `mixSeed(seed, SEED_PURPOSE.verify, step, chunkIndex) / 2^32 < fraction` (coordinator). It
 *   picks which chunks are checked, never what they compute.
 * - layer init, weight `k` of layer `layerIndex`: `mixSeed(seed, layerIndex, k)` (model/buildModel.ts).
 *   These keys carry no purpose tag and overlap the purpose keys' shape: the kernel of the layer
 *   at index 1 is seeded by `mixSeed(seed, 1, 0)`, the very key of epoch 0's shuffle (they feed
 *   different generators). They stay as they are so that saved runs reproduce bit for bit.
 *
 * The values are part of every result: never change them.
 */
export const SEED_PURPOSE = { shuffle: 1, dropout: 2, verify: 3 } as const;

/** Mixes several integers into one 32-bit seed (a murmur3-style finaliser per step). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h ^= p >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
