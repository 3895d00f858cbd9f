import {
  addMetricStatistics,
  buildModel,
  emptyMetricStatistics,
  fusedSupport,
  ParamLayout,
  ShapeError,
  type LayerSpec,
  type SparseRows,
  type WorkerJob,
} from '@adamant/core';
import type { GemmEngine } from '../gemm/GemmEngine.js';
import { createLayer } from './createLayer.js';
import type { DenseSpec } from './dense.js';
import { FusedEmbedding } from './embedding.js';
import { type Activations, type FusedLayer, Scratch } from './FusedLayer.js';
import { FusedHead } from './head.js';
import { timeMajor } from './matrix.js';

/** What a fused model is built from: a worker's job, or the config of a saved model. */
export type FusedModelSpec = Pick<WorkerJob, 'layers' | 'loss' | 'metrics' | 'inputShape'>;

/** Rows per forward pass in predict and evaluate, so that working memory stays bounded. */
export const INFERENCE_ROWS = 256;

/** One chunk's training result, before it is packed for the wire. */
export interface FusedStep {
  lossSum: number;
  metricSums: number[];
  sparse?: SparseRows;
}

/**
 * A model on the fused path: the stack of FusedLayers the job's `model` list describes, then its
 * head. Each layer gets its weight entries from the parameter layout of the very tfjs model the
 * coordinator builds (names, shapes, order), so the flat weight and gradient vectors are
 * interchangeable with autodiff's. Its matrix products run on `gemm`, the engine it is given (the
 * wasm engine on the current tfjs backend, see useBackend, or OpenBLAS).
 *
 * Inputs come sample-major, as on the wire: token ids [B, T], or float sequences [B, T, F],
 * which the model turns time-major for its layers.
 */
export class FusedModel {
  readonly layout: ParamLayout;
  private readonly layers: FusedLayer[] = [];
  private readonly head: FusedHead;
  private embedding?: FusedEmbedding;
  /** The raw input of a first recurrent layer: `steps` vectors of `features` per sample. */
  private readonly sequence?: { steps: number; features: number };
  private readonly inputSize: number;
  private readonly scratch = new Scratch();

  constructor(
    readonly spec: FusedModelSpec,
    readonly gemm: GemmEngine,
  ) {
    const support = fusedSupport(spec.layers, spec.loss, spec.metrics);
    if (!support.ok) throw new ShapeError(`the fused path does not support this model: ${support.reason}`);
    // The layout (names, shapes, order) comes from the very model tfjs would build.
    const model = buildModel(spec.layers, 0, { initialize: false });
    this.layout = ParamLayout.fromModel(model);
    const weightCounts = model.layers.map((layer) => layer.weights.length);
    model.dispose();
    let input = this.inputOf(spec);
    this.inputSize = input.kind === 'sequence' ? input.steps * input.width : input.width;
    if (input.kind === 'sequence') this.sequence = { steps: input.steps, features: input.width };
    let at = 0;
    const last = spec.layers.length - 1;
    let head: FusedHead | undefined;
    spec.layers.forEach((layerSpec, index) => {
      const count = weightCounts[index] ?? 0;
      const ctx = { index, input, weights: this.layout.entries.slice(at, at + count), scratch: this.scratch, gemm };
      at += count;
      if (index === last) {
        head = new FusedHead(layerSpec as DenseSpec, ctx, spec.loss);
        return;
      }
      const layer = createLayer(layerSpec, ctx);
      if (layer instanceof FusedEmbedding) this.embedding = layer;
      this.layers.push(layer);
      input = layer.output;
    });
    if (!head || at !== this.layout.entries.length) throw new ShapeError(`the model's ${this.layout.entries.length} weights do not match its layers`);
    this.head = head;
  }

  /** The shape of one sample's input: token ids for an embedding, else the first layer's [timesteps, features]. */
  private inputOf(spec: FusedModelSpec): Activations {
    const first = spec.layers[0] as LayerSpec;
    if (first.type === 'embedding') return { kind: 'vector', width: first.inputLength ?? spec.inputShape[0]! };
    const shape = 'inputShape' in first && first.inputShape ? first.inputShape : spec.inputShape;
    if (shape.length !== 2) throw new ShapeError(`model[0] (${first.type}) needs inputShape [timesteps, features]`);
    return { kind: 'sequence', steps: shape[0]!, width: shape[1]! };
  }

  get paramCount(): number {
    return this.layout.size;
  }

  /** Where the dense part of the gradient starts: after the embedding table, which goes sparse. */
  get denseOffset(): number {
    return this.embedding ? this.layout.entries[0]!.size : 0;
  }

  /** The head's outputs per sample, C. */
  get outputs(): number {
    return this.head.units;
  }

  /** The model keeps views into `flat` (the embedding table): leave it unchanged until the next call. */
  setWeights(flat: Float32Array): void {
    if (flat.length !== this.paramCount) throw new ShapeError(`expected ${this.paramCount} parameters, got ${flat.length}`);
    for (const layer of this.layers) layer.setWeights(flat);
    this.head.setWeights(flat);
  }

  private checkChunk(x: Float32Array, y: Float32Array | undefined, B: number, w?: Float32Array): void {
    if (x.length !== B * this.inputSize || (y && y.length !== B)) {
      const targets = y ? ` and ${y.length} targets; expected ${B * this.inputSize} and ${B}` : `; expected ${B * this.inputSize}`;
      throw new ShapeError(`chunk of ${B} samples has ${x.length} inputs${targets}`);
    }
    if (w && w.length !== B) throw new ShapeError(`chunk of ${B} samples has ${w.length} sample weights`);
  }

  /** Every layer's forward, then the head's pre-activations [B, C]. */
  private forward(x: Float32Array, B: number, training: boolean, seed: number): void {
    let activations = x;
    if (this.sequence) {
      const { steps, features } = this.sequence;
      activations = timeMajor(x, B, steps, features, this.scratch.get('model.input', x.length));
    }
    const mode = { training, seed };
    for (const layer of this.layers) activations = layer.forward(activations, B, mode);
    this.head.forward(activations, B, training);
  }

  /**
   * One chunk in training mode (dropout seeded by `seed`): adds the gradient of its loss sum
   * (Σ w·loss with sample weights w) into `grads` (the full flat vector, zeroed by the caller;
   * the embedding table's part goes to `sparse` instead) and returns the loss sum and the
   * (unweighted) metric statistics.
   */
  trainStep(x: Float32Array, y: Float32Array, B: number, seed: number, grads: Float32Array, w?: Float32Array): FusedStep {
    this.checkChunk(x, y, B, w);
    this.forward(x, B, true, seed);
    const dLogits = this.scratch.get('model.dLogits', B * this.outputs);
    const { lossSum, p } = this.head.loss(y, B, dLogits, w);
    const metricSums = this.metricStatistics(p, y, B);
    let gradient = this.head.backward(dLogits, B, grads);
    for (let l = this.layers.length - 1; l >= 0; l--) gradient = this.layers[l]!.backward(gradient, B, grads, l > 0);
    return { lossSum, metricSums, ...(this.embedding ? { sparse: this.embedding.sparseGradient() } : {}) };
  }

  /**
   * Adds the metric statistics of B samples with outputs p into `out`. The metrics read p as
   * float32, as tfjs's do: a threshold (0.5, AUC's buckets) then splits the same outputs.
   */
  private metricStatistics(p: Float64Array, y: Float32Array, B: number, out = emptyMetricStatistics(this.spec.metrics)): number[] {
    if (this.spec.metrics.length === 0) return out;
    const outputs = this.scratch.get('model.outputs', B * this.outputs);
    outputs.set(p);
    addMetricStatistics(this.spec.metrics, outputs, y, B, this.outputs, out);
    return out;
  }

  /** The head's outputs for `samples` rows (inference: no dropout), row-major [samples, C]. */
  predict(x: Float32Array, samples: number): Float32Array {
    this.checkChunk(x, undefined, samples);
    const C = this.outputs;
    const out = new Float32Array(samples * C);
    for (let start = 0; start < samples; start += INFERENCE_ROWS) {
      const rows = Math.min(INFERENCE_ROWS, samples - start);
      this.forward(x.subarray(start * this.inputSize, (start + rows) * this.inputSize), rows, false, 0);
      this.head.outputs(rows, out.subarray(start * C, (start + rows) * C));
    }
    return out;
  }

  /**
   * Loss sum (weighted by w, if given) and metric statistics of `samples` rows (inference),
   * summed in row order: a chunk's result depends on the chunk alone.
   */
  evaluate(x: Float32Array, y: Float32Array, samples: number, w?: Float32Array): { lossSum: number; metricSums: number[] } {
    this.checkChunk(x, y, samples, w);
    let lossSum = 0;
    const metricSums = emptyMetricStatistics(this.spec.metrics);
    for (let start = 0; start < samples; start += INFERENCE_ROWS) {
      const rows = Math.min(INFERENCE_ROWS, samples - start);
      const targets = y.subarray(start, start + rows);
      this.forward(x.subarray(start * this.inputSize, (start + rows) * this.inputSize), rows, false, 0);
      const { lossSum: sliceLoss, p } = this.head.loss(targets, rows, undefined, w?.subarray(start, start + rows));
      lossSum += sliceLoss;
      this.metricStatistics(p, targets, rows, metricSums);
    }
    return { lossSum, metricSums };
  }

  dispose(): void {
    for (const layer of this.layers) layer.dispose();
    this.head.dispose();
  }
}
