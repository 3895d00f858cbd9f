import * as tf from '@tensorflow/tfjs';
import {
  type BackendName,
  type Dataset,
  type GemmChoice,
  EVALUATION_ROWS,
  type Evaluation,
  EvaluationTally,
  fusedSupport,
  loadSavedModel,
  type ResolvedBackend,
  type SavedModel,
  ShapeError,
  useBackend,
} from '@adamant/core';
import { hasFusedLayers } from './fused/createLayer.js';
import type { GemmEngine } from './gemm/GemmEngine.js';
import { loadGemmEngine } from './gemm/loadGemmEngine.js';
import { FusedModel } from './fused/FusedModel.js';

/** Which forward pass runs: the fused layer stack of the workers, or tfjs's `model.predict`. */
export type InferencePath = 'fused' | 'tfjs';

export interface InferenceOptions {
  /** Default: auto, the fastest available, as in training. */
  backend?: BackendName;
  /** false: tfjs `model.predict` even where the model has a fused path (for comparisons). Default true. */
  fused?: boolean;
  /** The fused path's GEMM engine. Default: auto, OpenBLAS where it loads, else wasm. */
  gemm?: GemmChoice;
  /** With gemm auto: told, with the line to log, when OpenBLAS does not load and wasm runs instead. */
  onGemmFallback?: (message: string) => void;
}

/** Why a saved model runs on tfjs, or undefined when it takes the fused path. */
function tfjsReason(saved: SavedModel, fused: boolean | undefined): string | undefined {
  if (fused === false) return 'the fused path was turned off';
  const { model: layers, loss, metrics } = saved.config;
  const support = fusedSupport(layers, loss, metrics);
  if (!support.ok) return support.reason;
  return hasFusedLayers(layers) ? undefined : 'a layer has no fused implementation';
}

/**
 * Inference on a saved model (`adamant evaluate` and `predict`): the forward pass the workers
 * train with, where the model has one (core's fusedSupport: embedding or recurrent models), in
 * inference mode (dropout off); tfjs `model.predict` otherwise (dense-only models, for which it is
 * fast). Inputs go through in slices of EVALUATION_ROWS rows in row order, so the outputs and
 * the summed loss depend only on the input, the weights and the backend.
 *
 * Start it with `Inference.load(dir, options)`, which selects the backend as training does and
 * loads the directory, or `new Inference(saved, backend)` on a model already loaded.
 */
export class Inference {
  readonly path: InferencePath;
  /** Why the tfjs path runs, when it does. */
  readonly tfjsReason?: string;
  /** The fused path's GEMM engine; none on the tfjs path. */
  readonly gemm?: GemmEngine;
  private readonly fused?: FusedModel;

  constructor(
    readonly saved: SavedModel,
    readonly backend: ResolvedBackend,
    options: Pick<InferenceOptions, 'fused' | 'gemm' | 'onGemmFallback'> = {},
  ) {
    const reason = tfjsReason(saved, options.fused);
    this.path = reason === undefined ? 'fused' : 'tfjs';
    if (reason !== undefined) {
      this.tfjsReason = reason;
      return;
    }
    const { model: layers, loss, metrics } = saved.config;
    this.gemm = loadGemmEngine(options.gemm ?? 'auto', options.onGemmFallback ? { onFallback: options.onGemmFallback } : {});
    const fused = new FusedModel({ layers, loss, metrics, inputShape: saved.inputShape }, this.gemm);
    try {
      // The saved weights in the saved model's order, which must be the fused model's layout.
      fused.layout.assertMatches(saved.model, saved.dir);
      fused.setWeights(fused.layout.read(saved.model));
    } catch (err) {
      fused.dispose();
      throw err;
    }
    this.fused = fused;
  }

  /** Selects the backend (`auto` by default: the fastest available, as for training), then loads a model directory. */
  static async load(dir: string, options: InferenceOptions = {}): Promise<Inference> {
    const backend = await useBackend(options.backend ?? 'auto');
    const saved = await loadSavedModel(dir);
    try {
      return new Inference(saved, backend, options);
    } catch (err) {
      saved.model.dispose();
      throw err;
    }
  }

  /** The head's outputs per sample, C. */
  get outputs(): number {
    return this.saved.outputs;
  }

  /** Values per sample in the input. */
  get inputSize(): number {
    return this.saved.inputShape.reduce((a, b) => a * b, 1);
  }

  /** The head's outputs for `rows` samples of input (sample-major, as the data readers give it): [rows, C], row-major. */
  predict(x: Float32Array, rows: number): Float32Array {
    this.checkInput(x, rows);
    const C = this.outputs;
    const out = new Float32Array(rows * C);
    for (let start = 0; start < rows; start += EVALUATION_ROWS) {
      const size = Math.min(EVALUATION_ROWS, rows - start);
      out.set(this.slice(x, start, size), start * C);
    }
    return out;
  }

  /**
   * The loss, the configured metrics and (classifiers) per-class counts on a dataset read with
   * core's readDataFor; its sample weights (data.sampleWeight), if any, weigh the loss.
   */
  evaluate(data: Dataset): Evaluation {
    this.checkInput(data.x, data.rows);
    const { loss, metrics } = this.saved.config;
    const { labels } = this.saved;
    const tally = new EvaluationTally({ loss, metrics, outputs: this.outputs, ...(labels ? { labels } : {}) });
    for (let start = 0; start < data.rows; start += EVALUATION_ROWS) {
      const size = Math.min(EVALUATION_ROWS, data.rows - start);
      tally.add(this.slice(data.x, start, size), data.y.subarray(start, start + size), size, data.w?.subarray(start, start + size));
    }
    return tally.result();
  }

  private checkInput(x: Float32Array, rows: number): void {
    if (x.length !== rows * this.inputSize) {
      throw new ShapeError(`${rows} samples of input [${this.saved.inputShape}] need ${rows * this.inputSize} values, got ${x.length}`);
    }
  }

  /** The outputs of rows start..start+size, [size, C]. */
  private slice(x: Float32Array, start: number, size: number): Float32Array {
    const n = this.inputSize;
    const input = x.subarray(start * n, (start + size) * n);
    if (this.fused) return this.fused.predict(input, size);
    return tf.tidy(() => {
      const outputs = this.saved.model.predict(tf.tensor(input, [size, ...this.saved.inputShape])) as tf.Tensor;
      return outputs.dataSync() as Float32Array;
    });
  }

  /** Releases the fused model and the loaded tfjs model. */
  dispose(): void {
    this.fused?.dispose();
    this.saved.model.dispose();
  }
}
