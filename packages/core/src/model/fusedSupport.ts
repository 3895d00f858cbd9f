import { LOSS_NAMES, METRIC_NAMES, RECURRENT_LAYER_TYPES } from '../config/names.js';
import type { LayerSpec } from '../config/schema.js';

/**
 * Which jobs the worker's fused path trains (hand-written forward and backward passes with large
 * backend matMuls), and which go to tfjs autodiff. A pure function of the config, so that the
 * coordinator can say why before training starts and every worker picks the same path.
 *
 * The fused path covers: an embedding (or a first lstm, gru or bidirectional layer with an
 * inputShape), then dropout and any stack of lstm / gru / bidirectional layers (each returning
 * sequences while another sequence layer follows), an optional globalAveragePooling1d or
 * globalMaxPooling1d after a sequence, then dropout and dense layers, ending in a dense head;
 * with any loss in LOSS_NAMES and metric in METRIC_NAMES.
 */
export type FusedSupport = { ok: true } | { ok: false; layerIndex?: number; reason: string };

/** The cell activations the fused recurrent layers implement (tfjs's defaults). */
export const FUSED_RECURRENT_ACTIVATIONS = { activation: 'tanh', recurrentActivation: 'sigmoid' } as const;

type Recurrent = Extract<LayerSpec, { type: 'lstm' | 'gru' }> | Extract<LayerSpec, { type: 'bidirectional' }>['layer'];

const isRecurrent = (type: string): boolean => (RECURRENT_LAYER_TYPES as readonly string[]).includes(type) || type === 'bidirectional';

/** Why a recurrent cell is not fused, or undefined when it is. */
function cellProblem(cell: Recurrent): string | undefined {
  const { activation, recurrentActivation } = FUSED_RECURRENT_ACTIVATIONS;
  if (cell.activation !== activation) return `has activation ${cell.activation}; the fused path implements ${activation}`;
  if (cell.recurrentActivation !== recurrentActivation) {
    return `has recurrentActivation ${cell.recurrentActivation}; the fused path implements ${recurrentActivation}`;
  }
  return undefined;
}

export function fusedSupport(layers: readonly LayerSpec[], loss: string, metrics: readonly string[]): FusedSupport {
  const no = (layerIndex: number, reason: string): FusedSupport => {
    return { ok: false, layerIndex, reason: `model[${layerIndex}] (${layers[layerIndex]!.type}) ${reason}` };
  };
  const first = layers[0];
  if (!first) return { ok: false, reason: 'the model has no layers' };
  if (!layers.some((layer) => layer.type === 'embedding' || isRecurrent(layer.type))) {
    return no(0, 'starts a model without an embedding or recurrent layer: tfjs autodiff is the right path for such models, and fast for them');
  }
  if (first.type !== 'embedding' && !isRecurrent(first.type)) {
    return no(0, 'is not an embedding or a recurrent layer, which the fused path starts with');
  }
  // What flows out of the layers so far: a sequence (one vector per step) or one vector per sample.
  let flow: 'sequence' | 'vector' = 'sequence';
  const last = layers.length - 1;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    switch (layer.type) {
      case 'embedding':
        if (i > 0) return no(i, 'is not the first layer; the fused path implements an embedding as the first layer only');
        break;
      case 'lstm':
      case 'gru':
      case 'bidirectional': {
        if (flow !== 'sequence') return no(i, 'follows a layer that returns one vector per sample; the layer before it needs returnSequences');
        const cell = layer.type === 'bidirectional' ? layer.layer : layer;
        const problem = cellProblem(cell);
        if (problem) return no(i, problem);
        flow = cell.returnSequences ? 'sequence' : 'vector';
        break;
      }
      case 'globalAveragePooling1d':
      case 'globalMaxPooling1d':
        if (flow !== 'sequence') return no(i, 'follows a layer that returns one vector per sample; pooling needs a sequence');
        flow = 'vector';
        break;
      case 'dropout':
        break;
      case 'dense':
        if (flow !== 'vector') {
          const hint = 'end the sequence with returnSequences false or a pooling layer';
          return no(i, `gets a sequence; the fused path implements dense layers on one vector per sample (${hint})`);
        }
        break;
    }
  }
  if (layers[last]!.type !== 'dense') return no(last, 'is the last layer; the fused path implements models that end in a dense head');
  // The protocol may gain names before the fused head implements them: those train with autodiff.
  if (!(LOSS_NAMES as readonly string[]).includes(loss)) {
    return { ok: false, reason: `loss ${loss} is not implemented by the fused path (${LOSS_NAMES.join(', ')})` };
  }
  for (const metric of metrics) {
    if (!(METRIC_NAMES as readonly string[]).includes(metric)) {
      return { ok: false, reason: `metric ${metric} is not implemented by the fused path (${METRIC_NAMES.join(', ')})` };
    }
  }
  return { ok: true };
}

/**
 * How much slower autodiff trains this model than the fused path would, as a short phrase for
 * the log line that says a job takes autodiff. Measured on a 2-core machine, one chunk of 32
 * samples, fused on wasm against AutodiffGradients on cpu (the backend an autodiff embedding
 * needs without tfjs-node): Embedding(100, 8) -> LSTM(16) -> Dense(1), length 20: 7.4 ms against
 * 220 ms (30x); Embedding(2000, 64) -> LSTM(128) -> LSTM(64) -> Dense(1), length 20: 79 ms against
 * 25 s (320x); Embedding(1000, 64) -> GlobalAveragePooling1D -> Dense(16) -> Dense(1), length 100:
 * 5.3 ms against 27 s (about 5000x: cpu's embedding gradient, UnsortedSegmentSum, grows with the
 * vocabulary). Dense-only models have no fused path: autodiff is their fast path.
 */
export function autodiffSlowdown(layers: readonly LayerSpec[]): string {
  if (layers.some((layer) => isRecurrent(layer.type))) {
    return 'about 30-300x slower than the fused path for recurrent models on the cpu backend, more at larger sizes';
  }
  if (layers.some((layer) => layer.type === 'embedding')) {
    return 'hundreds to thousands of times slower than the fused path for embedding models on the cpu backend';
  }
  return 'about 1x: autodiff is the fast path for dense-only models';
}
