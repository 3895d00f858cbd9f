import { floatBytes, gatherRows, mixSeed, SEED_PURPOSE, type BatchPlan, type Dataset, type StepMessage } from '@adamant/core';
import type { ParameterServer } from './ParameterServer.js';

/**
 * The `step` message that hands chunks `indices` of a batch to one worker: the current weights
 * (with an embedding, only the table rows these chunks read), and for each chunk its rows and
 * its dropout seed. Workers need no shared filesystem.
 */
export function stepMessage(step: number, plan: BatchPlan, indices: readonly number[], train: Dataset, server: ParameterServer, seed: number): StepMessage {
  const inputs: Float32Array[] = [];
  const chunks = indices.map((index) => {
    const chunk = plan.chunks[index]!;
    const { x, y } = gatherRows(train, chunk.rows);
    inputs.push(x);
    return { index, samples: chunk.rows.length, seed: mixSeed(seed, SEED_PURPOSE.dropout, step, index), x: floatBytes(x), y: floatBytes(y) };
  });
  return { type: 'step', step, weights: server.denseWeightBytes(), ...server.tableRowsFor(inputs), chunks };
}
