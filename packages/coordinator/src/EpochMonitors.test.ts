import { silentLog } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { EpochMonitors } from './EpochMonitors.js';
import type { EpochReport } from './reports.js';

const stopping = { monitor: 'val_loss', mode: 'auto', patience: 1, minDelta: 0.5, restoreBestWeights: true, startFromEpoch: 0 } as const;

function report(epoch: number, loss: number, valLoss?: number, accuracy = 0.5): EpochReport {
  return {
    epoch,
    epochs: 10,
    loss,
    metrics: { accuracy },
    ...(valLoss !== undefined ? { valLoss, valMetrics: { accuracy } } : {}),
    seconds: 1,
    learningRate: 0.001,
    samplesPerSecond: 100,
  };
}

/** Feeds (loss, val_loss) pairs; returns the epochs (1-based) that improved. */
function improvedEpochs(monitors: EpochMonitors, values: [number, number | undefined][]): number[] {
  return values.flatMap(([loss, valLoss], i) => (monitors.epochEnded(report(i + 1, loss, valLoss), Float32Array.of(i)).improved ? [i + 1] : []));
}

describe('EpochMonitors', () => {
  it('without early stopping, keeps the best by val_loss when validating, else by loss: any strictly lower value', () => {
    const validated = new EpochMonitors({}, true, silentLog);
    expect(validated.monitor).toBe('val_loss');
    expect(improvedEpochs(validated, [[5, 3], [1, 3], [4, 2.9], [0.5, 3.5]])).toEqual([1, 3]);
    expect(validated.bestEpoch).toEqual({ monitor: 'val_loss', value: 2.9, epoch: 3 });
    const trainingOnly = new EpochMonitors({}, false, silentLog);
    expect(trainingOnly.monitor).toBe('loss');
    expect(improvedEpochs(trainingOnly, [[5, undefined], [1, undefined], [1, undefined], [0.5, undefined]])).toEqual([1, 2, 4]);
  });

  it('maximises an accuracy it monitors', () => {
    const monitors = new EpochMonitors({ earlyStopping: { ...stopping, monitor: 'accuracy', minDelta: 0, patience: 5 } }, true, silentLog);
    const accuracies = [0.5, 0.7, 0.6, 0.8];
    const improved = accuracies.flatMap((a, i) => (monitors.epochEnded(report(i + 1, 1, 1, a), Float32Array.of(i)).improved ? [i + 1] : []));
    expect(improved).toEqual([1, 2, 4]);
  });

  it('with early stopping, the best is early stopping\'s (minDelta counts), its figures go into the report, and the stop restores that epoch', () => {
    const monitors = new EpochMonitors({ earlyStopping: { ...stopping, patience: 2 } }, true, silentLog);
    const reports = [report(1, 9, 3), report(2, 8, 2.8), report(3, 7, 2.6)];
    const verdicts = reports.map((r, i) => monitors.epochEnded(r, Float32Array.of(i + 1)));
    // 2.8 and 2.6 are lower than 3 but not by minDelta 0.5: no new best, and the wait reaches patience at the third epoch.
    expect(verdicts.map((v) => v.improved)).toEqual([true, false, false]);
    expect(verdicts[2]).toEqual({ improved: false, stop: true, restore: Float32Array.of(1) });
    expect(reports.map((r) => r.earlyStopping)).toEqual([
      { best: 3, bestEpoch: 1, wait: 0, stop: false },
      { best: 3, bestEpoch: 1, wait: 1, stop: false },
      { best: 3, bestEpoch: 1, wait: 2, stop: true },
    ]);
    expect(reports.map((r) => r.improved)).toEqual([true, false, false]);
    expect(monitors.bestEpoch).toEqual({ monitor: 'val_loss', value: 3, epoch: 1 });
    expect(monitors.earlyStop).toEqual({ epoch: 3, monitor: 'val_loss', best: 3, bestEpoch: 1, wait: 2, restoredBestWeights: true });
    expect(monitors.stopped).toBe(true);
  });

  it('continues from its state; a checkpoint without it, or of another monitor, starts afresh', () => {
    const first = new EpochMonitors({ earlyStopping: { ...stopping, patience: 3 } }, true, silentLog);
    improvedEpochs(first, [[1, 3], [1, 2], [1, 2.2]]);
    const state = first.state();
    expect(state.bestModel).toEqual({ monitor: 'val_loss', best: 2, epoch: 2 });
    expect(state.earlyStopping).toMatchObject({ best: 2, bestEpoch: 1, wait: 1, bestWeights: Float32Array.of(1) });
    const resumed = new EpochMonitors({ earlyStopping: { ...stopping, patience: 3 } }, true, silentLog);
    resumed.restore(state, 1);
    expect(resumed.state()).toEqual(state);
    const warnings: string[] = [];
    const log = { ...silentLog, warn: (message: string) => warnings.push(message) };
    const other = new EpochMonitors({ earlyStopping: { ...stopping, monitor: 'loss' } }, true, log);
    other.restore(state, 1);
    expect(other.state()).toEqual({ earlyStopping: { monitor: 'loss', best: null, bestEpoch: 0, wait: 0, stoppedEpoch: 0, bestWeights: null }, bestModel: { monitor: 'loss', best: null, epoch: 0 } });
    expect(warnings).toHaveLength(2);
    const old = new EpochMonitors({}, true, silentLog);
    old.restore(undefined, 1);
    expect(old.bestEpoch).toBeUndefined();
  });
});
