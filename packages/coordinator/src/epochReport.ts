import { learningRateAt, meansOf, type JobConfig } from '@adamant/core';
import type { EpochReport } from './reports.js';
import type { EpochTotals } from './trainingLoopOptions.js';

/**
 * The report of 0-based epoch `epoch` from its totals, before validation adds its figures: the mean
 * loss and metrics over the epoch's `samples` training samples, its training seconds and samples/s,
 * and the learning rate its last update applied (the schedule one step before `nextStep`).
 */
export function epochReport(epoch: number, totals: EpochTotals, samples: number, nextStep: number, config: Pick<JobConfig, 'epochs' | 'metrics' | 'optimizer'>): EpochReport {
  return {
    epoch: epoch + 1,
    epochs: config.epochs,
    ...meansOf({ samples, lossSum: totals.lossSum, metricSums: totals.metricSums }, config.metrics),
    seconds: totals.seconds,
    learningRate: learningRateAt(config.optimizer.learningRate, Math.max(0, nextStep - 1)),
    samplesPerSecond: totals.seconds > 0 ? samples / totals.seconds : 0,
  };
}
