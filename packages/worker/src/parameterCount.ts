import type { WorkerJob } from '@adamant/core';

/**
 * How many parameters the model a job describes has, counted from its layers alone, without
 * building it: a worker checks a coordinator's job against `--max-params` with this before it
 * allocates anything, since `paramCount` is only the coordinator's word. Matches tfjs-layers:
 * dense kernels act on the last axis, an LSTM has four gates with a bias each.
 */
export function parameterCountOf(job: Pick<WorkerJob, 'layers' | 'inputShape'>): number {
  const first = job.layers[0];
  // The shape one sample has as it enters each layer (without the batch axis).
  let shape: number[] = (first?.type === 'dense' || first?.type === 'lstm') && first.inputShape ? [...first.inputShape] : [...job.inputShape];
  let count = 0;
  for (const layer of job.layers) {
    const last = shape.at(-1) ?? 0;
    switch (layer.type) {
      case 'dense':
        count += last * layer.units + (layer.useBias !== false ? layer.units : 0);
        shape = [...shape.slice(0, -1), layer.units];
        break;
      case 'embedding':
        count += layer.inputDim * layer.outputDim;
        shape = [...shape, layer.outputDim];
        break;
      case 'lstm':
        count += 4 * layer.units * (last + layer.units + 1);
        shape = layer.returnSequences ? [...shape.slice(0, -1), layer.units] : [layer.units];
        break;
      case 'dropout':
        break;
    }
  }
  return count;
}
