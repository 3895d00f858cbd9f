import { chunkWeightBytes, floatBytes, gatherRows, mixSeed, SEED_PURPOSE, type BatchPlan, type Dataset, type StepMessage } from '@adamant/core';
import type { ParameterServer } from './ParameterServer.js';
import type { RoundKind } from './stepRoundOptions.js';

/**
 * The `step` message that hands chunks `indices` of a batch to one worker: the current weights
 * (with an embedding, only the table rows these chunks read), and for each chunk its rows of
 * `rows` (the training split, or the validation split), its sample weights (only where one is
 * not 1) and its dropout seed. Workers need no
 * shared filesystem. A forward-only message (kind 'evaluate') is marked so; its chunks draw no
 * dropout, so their seed is 0.
 */
export function stepMessage(
  step: number,
  plan: BatchPlan,
  indices: readonly number[],
  rows: Dataset,
  server: ParameterServer,
  seed: number,
  kind: RoundKind = 'train',
): StepMessage {
  const inputs: Float32Array[] = [];
  const chunks = indices.map((index) => {
    const chunk = plan.chunks[index]!;
    const { x, y, w } = gatherRows(rows, chunk.rows);
    inputs.push(x);
    const chunkSeed = kind === 'train' ? mixSeed(seed, SEED_PURPOSE.dropout, step, index) : 0;
    const weights = chunkWeightBytes(w);
    return { index, samples: chunk.rows.length, seed: chunkSeed, x: floatBytes(x), y: floatBytes(y), ...(weights ? { w: weights } : {}) };
  });
  return { type: 'step', step, ...(kind === 'evaluate' ? { evaluate: true } : {}), weights: server.denseWeightBytes(), ...server.tableRowsFor(inputs), chunks };
}
