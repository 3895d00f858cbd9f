import * as tf from '@tensorflow/tfjs';
import type { LayerSpec, RecurrentLayerSpec } from '../config/schema.js';
import { ShapeError } from '../errors.js';
import { mixSeed } from '../rng.js';

/** Stable layer names ("dense_1", "lstm_2", ...): weights are named after them on the wire and on disk. */
export function layerName(layer: LayerSpec, index: number): string {
  return `${layer.type}_${index + 1}`;
}

/** Layers that read a sequence of vectors: as the first layer they take inputShape [timesteps, features]. */
const SEQUENCE_INPUT_TYPES: readonly LayerSpec['type'][] = ['lstm', 'gru', 'bidirectional'];

/**
 * Fills in the first layer's input shape from the data (the feature count of a CSV) when the
 * config leaves it out, and checks it when the config gives it.
 */
export function resolveInputShape(layers: readonly LayerSpec[], featureCount: number, source: string): LayerSpec[] {
  const resolved = layers.map((l) => ({ ...l }));
  const first = resolved[0];
  if (!first) throw new ShapeError(`${source}: the model has no layers`);
  if (first.type === 'dense') {
    first.inputShape ??= [featureCount];
    const perSample = first.inputShape.reduce((a, b) => a * b, 1);
    if (perSample !== featureCount) {
      throw new ShapeError(`${source}: model[0].inputShape [${first.inputShape}] holds ${perSample} values, but the data has ${featureCount} features`);
    }
  } else if (first.type === 'embedding') {
    first.inputLength ??= featureCount;
    if (first.inputLength !== featureCount) {
      throw new ShapeError(`${source}: model[0].inputLength is ${first.inputLength}, but the data has sequences of ${featureCount}`);
    }
  } else if (first.type === 'lstm' || first.type === 'gru' || first.type === 'bidirectional') {
    if (!first.inputShape) throw new ShapeError(`${source}: model[0].inputShape is required for a first ${first.type} layer ([timesteps, features])`);
    const [timesteps, features] = first.inputShape as [number, number];
    if (timesteps * features !== featureCount) {
      throw new ShapeError(`${source}: model[0].inputShape [${timesteps}, ${features}] holds ${timesteps * features} values per sample, but the data has ${featureCount} columns`);
    }
  }
  return resolved;
}

/** The shape of one sample's input tensor: [timesteps, features] for a first recurrent layer, else the flat row. */
export function sampleShape(layers: readonly LayerSpec[], featureCount: number): number[] {
  const first = layers[0];
  return first && SEQUENCE_INPUT_TYPES.includes(first.type) && 'inputShape' in first && first.inputShape ? [...first.inputShape] : [featureCount];
}

export interface BuildOptions {
  /**
   * false: fill every weight with zeros instead of drawing it, for processes that only need the
   * model's structure (workers receive the weights anyway). Skips the orthogonal initialiser's QR.
   */
  initialize?: boolean;
}

/**
 * Builds the tfjs Sequential model a layer list describes. Initial weights come from `seed`
 * alone (each weight has its own derived seed), so every process that builds the model from
 * the same config starts from the same numbers. Only stock tfjs layers are used, so a saved
 * model loads with plain `tf.loadLayersModel`.
 */
export function buildModel(layers: readonly LayerSpec[], seed: number, options: BuildOptions = {}): tf.Sequential {
  const initialize = options.initialize ?? true;
  const model = tf.sequential();
  // tfjs warns on every orthogonal initialiser over 2,000 values; it is slow once, at start-up.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith('Orthogonal initializer')) warn(...args);
  };
  try {
    addLayers(model, layers, seed, initialize);
  } finally {
    console.warn = warn;
  }
  return model;
}

/** Seeds of layer `index`'s initialisers: one per weight it draws, `k` numbering them. */
type LayerSeeds = (k: number) => number;

function addLayers(model: tf.Sequential, layers: readonly LayerSpec[], seed: number, initialize: boolean): void {
  const zeros = tf.initializers.zeros();
  layers.forEach((spec, i) => {
    const name = layerName(spec, i);
    // Layer init keys: not purpose-tagged (see SEED_PURPOSE in rng.ts); kept for bitwise-equal runs.
    const s: LayerSeeds = (k) => mixSeed(seed, i, k);
    switch (spec.type) {
      case 'dense':
        model.add(
          tf.layers.dense({
            name,
            units: spec.units,
            activation: spec.activation,
            useBias: spec.useBias,
            kernelInitializer: initialize ? tf.initializers.glorotUniform({ seed: s(0) }) : zeros,
            ...(spec.inputShape ? { inputShape: spec.inputShape } : {}),
          }),
        );
        break;
      case 'embedding':
        model.add(
          tf.layers.embedding({
            name,
            inputDim: spec.inputDim,
            outputDim: spec.outputDim,
            embeddingsInitializer: initialize ? tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s(0) }) : zeros,
            ...(spec.inputLength ? { inputLength: spec.inputLength } : {}),
          }),
        );
        break;
      case 'lstm':
      case 'gru':
        model.add(recurrentLayer(spec, name, s, initialize, spec.inputShape));
        break;
      case 'bidirectional': {
        const inner = recurrentLayer(spec.layer, layerName(spec.layer, i), s, initialize, undefined);
        const layer = tf.layers.bidirectional({ name, layer: inner, mergeMode: spec.mergeMode, ...(spec.inputShape ? { inputShape: spec.inputShape } : {}) });
        model.add(layer);
        if (initialize) redrawBackward(layer, s, `model[${i}]`);
        break;
      }
      case 'dropout':
        model.add(tf.layers.dropout({ name, rate: spec.rate, seed: s(0) }));
        break;
      case 'globalAveragePooling1d':
        model.add(tf.layers.globalAveragePooling1d({ name }));
        break;
      case 'globalMaxPooling1d':
        model.add(tf.layers.globalMaxPooling1d({ name }));
        break;
    }
  });
}

/** An lstm or gru with seeded initialisers: kernel Glorot uniform s(0), recurrent kernel orthogonal s(1), biases zero. */
function recurrentLayer(spec: RecurrentLayerSpec, name: string, s: LayerSeeds, initialize: boolean, inputShape: number[] | undefined): tf.layers.RNN {
  const zeros = tf.initializers.zeros();
  const common = {
    name,
    units: spec.units,
    returnSequences: spec.returnSequences,
    activation: spec.activation,
    recurrentActivation: spec.recurrentActivation,
    kernelInitializer: initialize ? tf.initializers.glorotUniform({ seed: s(0) }) : zeros,
    recurrentInitializer: initialize ? tf.initializers.orthogonal({ gain: 1, seed: s(1) }) : zeros,
    ...(inputShape ? { inputShape } : {}),
  };
  if (spec.type === 'lstm') return tf.layers.lstm({ ...common, ...(initialize ? {} : { biasInitializer: zeros, unitForgetBias: false }) });
  if (spec.resetAfter) {
    // checkModelShape refuses this first; a config that skipped it gets the same answer, not tfjs's ValueError.
    throw new ShapeError(`${name}: resetAfter true is not implemented by tfjs's GRU; use resetAfter false`);
  }
  return tf.layers.gru({ ...common, biasInitializer: zeros });
}

/**
 * tfjs builds a bidirectional layer's backward direction from the forward layer's config, seeded
 * initialisers included, so both would start from the same weights. The backward kernels are
 * drawn again from seeds of their own, s(2) and s(3); biases stay as the layer set them.
 */
function redrawBackward(layer: tf.layers.Layer, s: LayerSeeds, where: string): void {
  if (!layer.built) throw new ShapeError(`${where}: a bidirectional layer needs the model's input shape to draw its weights`);
  tf.tidy(() => {
    // getWeights() is the forward direction's [kernel, recurrent kernel, bias], then the backward one's.
    const weights = layer.getWeights();
    const half = weights.length / 2;
    const [kernel, recurrentKernel] = [weights[half]!, weights[half + 1]!];
    weights[half] = tf.initializers.glorotUniform({ seed: s(2) }).apply(kernel.shape);
    weights[half + 1] = tf.initializers.orthogonal({ gain: 1, seed: s(3) }).apply(recurrentKernel.shape);
    layer.setWeights(weights);
  });
}

/** An embedding table at the start of the parameter vector: `rows` x `dim` floats. */
export interface EmbeddingTable {
  rows: number;
  dim: number;
}

/** The model's embedding table (it can only be the first layer), or undefined when it has none. */
export function embeddingTable(layers: readonly LayerSpec[]): EmbeddingTable | undefined {
  const first = layers[0];
  return first?.type === 'embedding' ? { rows: first.inputDim, dim: first.outputDim } : undefined;
}

/** Whether a model trains an embedding (whose gradient needs UnsortedSegmentSum). */
export function hasEmbedding(layers: readonly LayerSpec[]): boolean {
  return layers.some((l) => l.type === 'embedding');
}
