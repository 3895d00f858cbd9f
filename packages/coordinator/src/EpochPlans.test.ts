import { epochOrder, planEpoch, type Dataset, type JobConfig } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { EpochPlans } from './EpochPlans.js';

const config = { seed: 7, shuffle: true, batchSize: 4, chunkSize: 2, epochs: 3 } as JobConfig;
const train: Dataset = { rows: 10, featureCount: 1, x: new Float32Array(10), y: new Float32Array(10) };

describe('EpochPlans', () => {
  it("plans each epoch as planEpoch does, and names the step after each batch: the next batch, then the next epoch's first", () => {
    const plans = new EpochPlans(config, train, false);
    for (let epoch = 0; epoch < 3; epoch++) expect(plans.of(epoch)).toEqual(planEpoch(epochOrder(10, 7, epoch, true), epoch, 4, 2));
    const [first, second, last] = plans.of(1);
    expect(plans.after(first!)?.plan).toEqual(second);
    expect(plans.after(second!)?.rows).toBe(train);
    expect(plans.after(last!)?.plan).toEqual(plans.of(2)[0]);
    // The run's last batch has no step after it.
    expect(plans.after(plans.of(2)[2]!)).toBeUndefined();
  });

  it('names no step after an epoch when validation comes between', () => {
    const plans = new EpochPlans(config, train, true);
    const batches = plans.of(0);
    expect(plans.after(batches[0]!)?.plan).toEqual(batches[1]);
    expect(plans.after(batches[2]!)).toBeUndefined();
  });
});
