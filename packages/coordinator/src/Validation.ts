import * as tf from '@tensorflow/tfjs';
import { evaluateSums, meansOf, type Dataset, type JobConfig, type ParamLayout } from '@adamant/core';
import type { EpochReport } from './reports.js';

/**
 * Validation on the coordinator, between epochs: the held-out rows as tensors (made once), and
 * the model they run through in inference mode (dropout off) with the current weights.
 */
export class Validation {
  private readonly x: tf.Tensor;
  private readonly y: tf.Tensor;

  constructor(
    readonly data: Dataset,
    inputShape: readonly number[],
    private readonly model: tf.LayersModel,
    private readonly layout: ParamLayout,
    private readonly config: Pick<JobConfig, 'loss' | 'metrics'>,
  ) {
    this.x = tf.tensor(data.x, [data.rows, ...inputShape]);
    this.y = tf.tensor(data.y, [data.rows, 1]);
  }

  /** Loss and metrics of `params` on the validation rows. */
  evaluate(params: Float32Array): Pick<EpochReport, 'valLoss' | 'valMetrics'> {
    this.layout.write(this.model, params);
    const { loss, metrics } = this.config;
    const means = meansOf(evaluateSums(this.model, loss, metrics, this.x, this.y), metrics);
    return { valLoss: means.loss, valMetrics: means.metrics };
  }

  dispose(): void {
    if (this.x.isDisposed) return;
    this.x.dispose();
    this.y.dispose();
  }
}
