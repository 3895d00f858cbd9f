import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, layerSpecSchema, mulberry32, ParamLayout, type LayerSpec, type LossName, type ResolvedBackend, type WorkerJob } from '@adamant/core';
import { FusedGradients, type GemmEngine, loadGemmEngine } from '@adamant/worker';

/** The size of a text benchmark: vocabulary, padded length and global batch. */
export interface Shape {
  vocabulary: number;
  length: number;
  batch: number;
}

let auto: GemmEngine | undefined;
/** The GEMM engine a worker picks by default (`--gemm auto`): OpenBLAS where it loads, else wasm. */
export function autoEngine(): GemmEngine {
  auto ??= loadGemmEngine('auto');
  return auto;
}

/** The rows of one chunk, as the coordinator sends them. */
export const CHUNK = 32;

/** Layer specs as a config file writes them, with the schema's defaults filled in. */
export const specs = (layers: readonly object[]): LayerSpec[] => layers.map((layer) => layerSpecSchema.parse(layer));

/** The reference model (issue 4): Embedding(V, 64) -> LSTM(128, sequences) -> LSTM(64) -> Dense(1, sigmoid). */
export function referenceLayers({ vocabulary, length }: Shape): LayerSpec[] {
  return specs([
    { type: 'embedding', inputDim: vocabulary, outputDim: 64, inputLength: length },
    { type: 'lstm', units: 128, returnSequences: true },
    { type: 'lstm', units: 64 },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ]);
}

/** The reference model with a dropout between the LSTMs and a Dense(64, relu) before the head (issue 10). */
export function regularizedLayers(shape: Shape): LayerSpec[] {
  const [embedding, first, second, head] = referenceLayers(shape);
  return [embedding!, first!, ...specs([{ type: 'dropout', rate: 0.2 }]), second!, ...specs([{ type: 'dense', units: 64, activation: 'relu' }]), head!];
}

/** Random token ids [batch, length] and targets: 0/1, or class indices below `classes`. */
export function batchOf({ vocabulary, length, batch }: Shape, classes = 2, seed = 1): { x: Float32Array; y: Float32Array } {
  const random = mulberry32(seed);
  return {
    x: Float32Array.from({ length: batch * length }, () => Math.floor(random() * vocabulary)),
    y: Float32Array.from({ length: batch }, () => (classes === 2 ? (random() < 0.4 ? 1 : 0) : Math.floor(random() * classes))),
  };
}

/** A worker job for `layers` with the tfjs model's initial weights (seed 1), and those weights. */
export function jobOf(layers: LayerSpec[], loss: LossName, backend: ResolvedBackend, length: number): { job: WorkerJob; weights: Float32Array } {
  const model = buildModel(layers, 1);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  model.dispose();
  return { job: { layers, loss, metrics: ['accuracy'], backend, seed: 1, inputShape: [length], paramCount: layout.size }, weights };
}

/**
 * One Adamant worker's fused path on the current tfjs backend, set up for `layers`: `step()`
 * computes a global batch as the coordinator cuts it, chunks of 32, each with its own seed. Its
 * products run on `gemm`, by default the engine a worker picks with `--gemm auto`.
 */
export function fusedTrainer(
  shape: Shape,
  layers: LayerSpec[],
  { loss = 'binaryCrossentropy', classes = 2, gemm }: { loss?: LossName; classes?: number; gemm?: GemmEngine } = {},
): { step: () => void; dispose: () => void } {
  const backend = tf.getBackend() as ResolvedBackend;
  const { job, weights } = jobOf(layers, loss, backend, shape.length);
  const gradients = new FusedGradients(job, backend, gemm ?? autoEngine());
  gradients.setWeights(weights);
  const { x, y } = batchOf(shape, classes);
  return {
    step: () => {
      for (let start = 0; start < shape.batch; start += CHUNK) {
        const rows = Math.min(CHUNK, shape.batch - start);
        // A seed per chunk, as the coordinator sends: dropout draws its masks from it.
        gradients.compute(x.subarray(start * shape.length, (start + rows) * shape.length), y.subarray(start, start + rows), rows, start + 1);
      }
    },
    dispose: () => gradients.dispose(),
  };
}

export const tokensPerSecond = (shape: Shape, nsPerBatch: number): number => (shape.batch * shape.length) / (nsPerBatch / 1e9);


/** The article's reference size: vocabulary 10,000, length 100, batch 64. */
export const REFERENCE: Shape = { vocabulary: 10_000, length: 100, batch: 64 };

/** Training FLOPs per token of the reference model (forward + backward, ~3x the forward matMuls). */
export const FLOP_PER_TOKEN = 0.885e6;

/** How many float32 parameters the reference model has (the parameter server's vector). */
export function referenceParamCount(): number {
  const model = buildModel(referenceLayers(REFERENCE), 1);
  const size = ParamLayout.fromModel(model).size;
  model.dispose();
  return size;
}
