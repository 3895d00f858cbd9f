import { mixSeed, mulberry32, SEED_PURPOSE } from '../rng.js';

/** One chunk of a global batch: the unit of work a worker computes. */
export interface ChunkPlan {
  /** Position in the batch; gradients are summed in this order. */
  index: number;
  /** Row indices into the training split. */
  rows: Uint32Array;
}

export interface BatchPlan {
  epoch: number;
  /** Batch number within the epoch. */
  batch: number;
  /** Number of samples in the batch (the last batch of an epoch may be short). */
  size: number;
  chunks: ChunkPlan[];
}

/**
 * The order in which an epoch visits the training rows: the identity when shuffle is off,
 * else a Fisher-Yates shuffle seeded by (seed, epoch). Depends on nothing else, so every
 * process that knows the config derives the same order.
 */
export function epochOrder(rows: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  if (!shuffle) return order;
  const random = mulberry32(mixSeed(seed, SEED_PURPOSE.shuffle, epoch));
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/**
 * Splits an epoch into global batches (Keras-style: the last one may be short) and each batch
 * into chunks of `chunkSize` rows. The split depends only on the config, never on the workers.
 */
export function planEpoch(order: Uint32Array, epoch: number, batchSize: number, chunkSize: number): BatchPlan[] {
  const batches: BatchPlan[] = [];
  for (let start = 0, batch = 0; start < order.length; start += batchSize, batch++) {
    const end = Math.min(start + batchSize, order.length);
    const chunks: ChunkPlan[] = [];
    for (let c = start, index = 0; c < end; c += chunkSize, index++) {
      chunks.push({ index, rows: order.subarray(c, Math.min(c + chunkSize, end)) });
    }
    batches.push({ epoch, batch, size: end - start, chunks });
  }
  return batches;
}

/** Batches in an epoch of `rows` rows: the last one may be short. */
export function batchesPerEpoch(rows: number, batchSize: number): number {
  return Math.ceil(rows / batchSize);
}
