import { ShapeError, type ResolvedBackend, type WorkerJob } from '@adamant/core';
import type { GemmEngine } from '../gemm/GemmEngine.js';
import { WasmGemm } from '../gemm/WasmGemm.js';
import type { ChunkGradient, GradientPath } from '../GradientPath.js';
import { FusedModel } from './FusedModel.js';

/**
 * A chunk's gradient without tfjs autodiff, for the models core's fusedSupport accepts: a
 * FusedModel (embedding, recurrent layers, dropout, pooling, dense layers, head) computes the
 * forward and backward passes with few, large matrix products on a GEMM engine and typed-array
 * loops, where tfjs autodiff spends its time in per-op overhead (and cannot differentiate an
 * embedding on wasm at all). Every operation has fixed shapes and order, so a chunk's result is
 * bitwise the same on a given backend and engine whichever worker computes it. Tested against
 * AutodiffGradients. Without an engine it uses the wasm engine (tfjs's matMul on the backend).
 *
 * Besides the GradientPath, it predicts and evaluates on the same weights (forward only).
 */
export class FusedGradients implements GradientPath {
  readonly model: FusedModel;
  private grads = new Float32Array(0);

  constructor(
    readonly job: WorkerJob,
    readonly backend: ResolvedBackend,
    readonly gemm: GemmEngine = new WasmGemm(),
  ) {
    this.model = new FusedModel(job, gemm);
    if (this.model.paramCount !== job.paramCount) {
      throw new ShapeError(`the model has ${this.model.paramCount} parameters, but the coordinator's has ${job.paramCount}`);
    }
  }

  get paramCount(): number {
    return this.model.paramCount;
  }

  setWeights(flat: Float32Array): void {
    this.model.setWeights(flat);
  }

  /** The arrays it returns are reused: they stay valid until the next call. */
  compute(x: Float32Array, y: Float32Array, samples: number, seed: number, w?: Float32Array): ChunkGradient {
    if (this.grads.length !== this.paramCount) this.grads = new Float32Array(this.paramCount);
    const offset = this.model.denseOffset;
    // The table's part stays zero: its gradient goes as sparse rows.
    this.grads.fill(0, offset);
    const { lossSum, metricSums, sparse } = this.model.trainStep(x, y, samples, seed, this.grads, w);
    return { dense: this.grads.subarray(offset), ...(sparse ? { sparse } : {}), lossSum, metricSums };
  }

  /** The head's outputs, [samples, C] (see FusedModel.predict). */
  predict(x: Float32Array, samples: number): Float32Array {
    return this.model.predict(x, samples);
  }

  /** Loss sum and metric statistics, forward only (see FusedModel.evaluate). */
  evaluate(x: Float32Array, y: Float32Array, samples: number, w?: Float32Array): { lossSum: number; metricSums: number[] } {
    return this.model.evaluate(x, y, samples, w);
  }

  dispose(): void {
    this.model.dispose();
  }
}
