import { chunkSizeOf, epochOrder, planEpoch, type BatchPlan, type Dataset, type JobConfig } from '@adamant/core';
import type { NextStep } from './SplitUpdate.js';

/**
 * The epochs' batch plans (`planEpoch` over `epochOrder`: a function of the config alone), kept for
 * the epoch in progress and the one after, and the step that follows a batch: the parameter server
 * updates first what that step reads.
 */
export class EpochPlans {
  private readonly kept = new Map<number, BatchPlan[]>();

  constructor(
    private readonly config: JobConfig,
    private readonly train: Dataset,
    /** Whether validation runs after each epoch (then no step follows an epoch's last batch directly). */
    private readonly validated: boolean,
  ) {}

  /** Epoch `epoch`'s batches, in order. */
  of(epoch: number): BatchPlan[] {
    let batches = this.kept.get(epoch);
    if (!batches) {
      const { config } = this;
      batches = planEpoch(epochOrder(this.train.rows, config.seed, epoch, config.shuffle), epoch, config.batchSize, chunkSizeOf(config));
      for (const old of this.kept.keys()) if (old < epoch - 1) this.kept.delete(old);
      this.kept.set(epoch, batches);
    }
    return batches;
  }

  /**
   * The training step after batch `plan`: the next batch of its epoch, or the first of the next
   * epoch; undefined when validation or the end of the run comes between.
   */
  after(plan: BatchPlan): NextStep | undefined {
    const batches = this.of(plan.epoch);
    const following = batches[plan.batch + 1];
    if (following) return { plan: following, rows: this.train };
    if (this.validated || plan.epoch + 1 >= this.config.epochs) return undefined;
    const first = this.of(plan.epoch + 1)[0];
    return first ? { plan: first, rows: this.train } : undefined;
  }
}
