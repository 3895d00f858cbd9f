import * as tf from '@tensorflow/tfjs';
import {
  addMetricStatistics,
  buildModel,
  emptyMetricStatistics,
  mixSeed,
  ParamLayout,
  lossSum as weightedLossSum,
  ShapeError,
  type ResolvedBackend,
  type WorkerJob,
} from '@adamant/core';
import { checkTokenIds, touchedRows, type ChunkEvaluation, type ChunkGradient, type GradientPath } from './GradientPath.js';

/**
 * Computes the gradient sum of one chunk with TensorFlow.js autodiff: the general path, for
 * any model the config can describe. Chunks of the same rows and weights give bit-identical
 * results on a given backend, whichever worker computes them: that is what makes the server's
 * chunk-ordered sum independent of the number of workers.
 */
export class AutodiffGradients implements GradientPath {
  private readonly layout: ParamLayout;
  private readonly variables: tf.Variable[];
  private readonly dropoutLayers: { layer: tf.layers.Layer; index: number }[];

  private constructor(
    readonly job: WorkerJob,
    readonly backend: ResolvedBackend,
    private readonly model: tf.Sequential,
  ) {
    this.layout = ParamLayout.fromModel(model);
    if (this.layout.size !== job.paramCount) {
      throw new ShapeError(`the model has ${this.layout.size} parameters, but the coordinator's has ${job.paramCount}`);
    }
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.dropoutLayers = model.layers
      .map((layer, index) => ({ layer, index }))
      .filter(({ layer }) => layer.getClassName() === 'Dropout');
  }

  /** Builds the model on the current backend (`createGradientPath` selects it). */
  static create(job: WorkerJob, backend: ResolvedBackend): AutodiffGradients {
    const model = buildModel(job.layers, job.seed, { initialize: false });
    return new AutodiffGradients(job, backend, model);
  }

  get paramCount(): number {
    return this.layout.size;
  }

  setWeights(flat: Float32Array): void {
    this.layout.write(this.model, flat);
  }

  /** Checks a chunk's shapes, and its token ids when the model starts with an embedding. */
  private checkChunk(x: Float32Array, y: Float32Array, samples: number, w: Float32Array | undefined): void {
    const perSample = this.job.inputShape.reduce((a, b) => a * b, 1);
    if (x.length !== samples * perSample || y.length !== samples) {
      throw new ShapeError(`chunk of ${samples} samples has ${x.length} inputs and ${y.length} targets; expected ${samples * perSample} and ${samples}`);
    }
    if (w && w.length !== samples) throw new ShapeError(`chunk of ${samples} samples has ${w.length} sample weights`);
    const first = this.job.layers[0]!;
    if (first.type === 'embedding') checkTokenIds(x, perSample, first.inputDim);
  }

  /** Gradient sum, loss sum (Σ w·loss with weights w) and metric statistics of `samples` rows (x: samples x inputShape, y: one target per sample). */
  compute(x: Float32Array, y: Float32Array, samples: number, seed: number, w?: Float32Array): ChunkGradient {
    this.checkChunk(x, y, samples, w);
    const first = this.job.layers[0]!;
    // Dropout masks depend on the chunk's seed alone, never on which worker draws them.
    for (const { layer, index } of this.dropoutLayers) (layer as unknown as { seed: number }).seed = mixSeed(seed, index);
    const grads = new Float32Array(this.layout.size);
    let lossSum = 0;
    const metricSums = emptyMetricStatistics(this.job.metrics);
    tf.tidy(() => {
      const xs = tf.tensor(x, [samples, ...this.job.inputShape], 'float32');
      const ys = tf.tensor(y, [samples, 1], 'float32');
      const ws = w ? tf.tensor(w, [samples], 'float32') : undefined;
      let prediction: tf.Tensor | undefined;
      const { value, grads: byName } = tf.variableGrads(() => {
        // keep(): the metrics read the same forward pass's predictions after the gradient tape is gone.
        prediction = tf.keep(this.model.apply(xs, { training: true }) as tf.Tensor);
        return weightedLossSum(this.job.loss, ys, prediction, ws);
      }, this.variables);
      lossSum = value.dataSync()[0]!;
      if (prediction) {
        const outputs = prediction.shape[prediction.rank - 1] ?? 1;
        if (this.job.metrics.length > 0) addMetricStatistics(this.job.metrics, prediction.dataSync(), y, samples, outputs, metricSums);
        prediction.dispose();
      }
      this.variables.forEach((variable, i) => {
        const gradient = byName[variable.name];
        const entry = this.layout.entries[i]!;
        if (gradient) grads.set(gradient.dataSync() as Float32Array, entry.offset);
      });
    });
    if (first.type === 'embedding') {
      // Same wire format as the fused path: the table's gradient only for the touched rows.
      const tableSize = this.layout.entries[0]!.size;
      const sparse = touchedRows(x, first.inputDim, first.outputDim, grads.subarray(0, tableSize));
      return { dense: grads.slice(tableSize), sparse, lossSum, metricSums };
    }
    return { dense: grads, lossSum, metricSums };
  }

  /** Loss sum (weighted by w, if given) and metric statistics of `samples` rows, forward only in inference mode (dropout off), as tfjs's `predict` runs. */
  evaluate(x: Float32Array, y: Float32Array, samples: number, w?: Float32Array): ChunkEvaluation {
    this.checkChunk(x, y, samples, w);
    const metricSums = emptyMetricStatistics(this.job.metrics);
    const lossSum = tf.tidy(() => {
      const prediction = this.model.apply(tf.tensor(x, [samples, ...this.job.inputShape], 'float32'), { training: false }) as tf.Tensor;
      const outputs = prediction.shape[prediction.rank - 1] ?? 1;
      if (this.job.metrics.length > 0) addMetricStatistics(this.job.metrics, prediction.dataSync(), y, samples, outputs, metricSums);
      const ws = w ? tf.tensor(w, [samples], 'float32') : undefined;
      return weightedLossSum(this.job.loss, tf.tensor(y, [samples, 1], 'float32'), prediction, ws).dataSync()[0]!;
    });
    return { lossSum, metricSums };
  }

  dispose(): void {
    this.model.dispose();
  }
}
