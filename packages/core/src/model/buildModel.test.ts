import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { MERGE_MODES } from '../config/names.js';
import type { LayerSpec } from '../config/schema.js';
import { ShapeError } from '../errors.js';
import { mixSeed } from '../rng.js';
import { thrown } from '../thrown.testutil.js';
import { buildModel, resolveInputShape, sampleShape } from './buildModel.js';
import { ParamLayout } from './layout.js';

const recurrent = { returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' } as const;
const gru = (units: number, extra: Partial<Extract<LayerSpec, { type: 'gru' }>> = {}): Extract<LayerSpec, { type: 'gru' }> => ({
  type: 'gru',
  units,
  resetAfter: false,
  ...recurrent,
  ...extra,
});
const lstm = (units: number, extra: Partial<Extract<LayerSpec, { type: 'lstm' }>> = {}): Extract<LayerSpec, { type: 'lstm' }> => ({
  type: 'lstm',
  units,
  ...recurrent,
  ...extra,
});
const head: LayerSpec = { type: 'dense', units: 1, activation: 'sigmoid', useBias: true };

// Keras's parameter counts, input width d and u units.
const kerasLstm = (d: number, u: number) => 4 * (u * (d + u) + u);
const kerasGru = (d: number, u: number, resetAfter: boolean) => 3 * (u * (d + u) + (resetAfter ? 2 : 1) * u);
const kerasDense = (d: number, u: number) => d * u + u;

/** Builds, reads what is asked, and disposes the model. */
function withModel<T>(layers: LayerSpec[], seed: number, read: (model: tf.Sequential) => T, initialize = true): T {
  const model = buildModel(layers, seed, { initialize });
  try {
    return read(model);
  } finally {
    model.dispose();
  }
}

const weightsOf = (model: tf.LayersModel): Map<string, Float32Array> =>
  new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));

describe('buildModel, recurrent and pooling layers', () => {
  it('gru: Keras parameter counts for resetAfter false; resetAfter true (no stock tfjs GRU has it) is refused by name', () => {
    for (const [d, u] of [
      [3, 5],
      [8, 2],
    ] as const) {
      const count = withModel([gru(u, { inputShape: [4, d] }), head], 1, (m) => m.layers[0]!.countParams());
      expect(count).toBe(kerasGru(d, u, false));
    }
    const error = thrown(() => buildModel([gru(5, { inputShape: [4, 3], resetAfter: true }), head], 1), ShapeError, 'E_SHAPE');
    expect(error.message).toBe("gru_1: resetAfter true is not implemented by tfjs's GRU; use resetAfter false");
  });

  it('bidirectional: twice the wrapped layer parameters in every merge mode; concat doubles the width', () => {
    for (const mergeMode of MERGE_MODES) {
      for (const inner of [gru(4), lstm(4)]) {
        const layers: LayerSpec[] = [
          { type: 'embedding', inputDim: 20, outputDim: 6, inputLength: 7 },
          { type: 'bidirectional', layer: inner, mergeMode },
          head,
        ];
        const [params, width, headParams] = withModel(layers, 2, (m) => [m.layers[1]!.countParams(), m.layers[1]!.outputShape, m.layers[2]!.countParams()]);
        const one = inner.type === 'gru' ? kerasGru(6, 4, false) : kerasLstm(6, 4);
        expect(params, `${inner.type} ${mergeMode}`).toBe(2 * one);
        expect(width).toEqual([null, mergeMode === 'concat' ? 8 : 4]);
        expect(headParams).toBe(kerasDense(mergeMode === 'concat' ? 8 : 4, 1));
      }
    }
  });

  it('bidirectional: the backward direction starts from weights of its own, drawn from the seed', () => {
    const layers: LayerSpec[] = [{ type: 'bidirectional', layer: gru(3), mergeMode: 'sum', inputShape: [5, 2] }, head];
    const weights = withModel(layers, 7, weightsOf);
    const forward = weights.get('bidirectional_1/forward_gru_1/kernel')!;
    const backward = weights.get('bidirectional_1/backward_gru_1/kernel')!;
    const s = (k: number) => mixSeed(7, 0, k);
    expect([...forward]).toEqual([
      ...tf.initializers
        .glorotUniform({ seed: s(0) })
        .apply([2, 9])
        .dataSync(),
    ]);
    expect([...backward]).toEqual([
      ...tf.initializers
        .glorotUniform({ seed: s(2) })
        .apply([2, 9])
        .dataSync(),
    ]);
    expect([...backward]).not.toEqual([...forward]);
    const recurrentForward = weights.get('bidirectional_1/forward_gru_1/recurrent_kernel')!;
    const recurrentBackward = weights.get('bidirectional_1/backward_gru_1/recurrent_kernel')!;
    expect([...recurrentBackward]).not.toEqual([...recurrentForward]);
    // The same seed gives the same weights in any process; another seed gives others.
    const again = withModel(layers, 7, weightsOf);
    for (const [name, values] of weights) expect([...again.get(name)!], name).toEqual([...values]);
    expect([...withModel(layers, 8, weightsOf).get('bidirectional_1/backward_gru_1/kernel')!]).not.toEqual([...backward]);
  });

  it('initialize false fills every weight of the new layers with zeros', () => {
    const layers: LayerSpec[] = [
      { type: 'embedding', inputDim: 10, outputDim: 3, inputLength: 4 },
      { type: 'bidirectional', layer: lstm(2, { returnSequences: true }), mergeMode: 'concat' },
      gru(3, { returnSequences: true }),
      { type: 'globalMaxPooling1d' },
      head,
    ];
    const weights = withModel(layers, 3, weightsOf, false);
    expect(weights.size).toBe(1 + 6 + 3 + 2);
    for (const [name, values] of weights)
      expect(
        values.every((v) => v === 0),
        name,
      ).toBe(true);
  });

  it('pooling: no parameters, one vector per sample: the mean or the max over the timesteps', () => {
    for (const type of ['globalAveragePooling1d', 'globalMaxPooling1d'] as const) {
      const layers: LayerSpec[] = [
        gru(2, { returnSequences: true, inputShape: [3, 1] }),
        { type },
        { type: 'dense', units: 1, activation: 'linear', useBias: true },
      ];
      withModel(layers, 4, (model) => {
        expect(model.layers[1]!.countParams()).toBe(0);
        expect(model.layers[1]!.outputShape).toEqual([null, 2]);
        const sequence = tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 3, 2]);
        const pooled = (model.layers[1]!.apply(sequence) as tf.Tensor).dataSync();
        expect([...pooled]).toEqual(type === 'globalAveragePooling1d' ? [3, 4] : [5, 6]);
      });
    }
  });

  it('names weights by position, the same in every build', () => {
    const layers: LayerSpec[] = [
      { type: 'embedding', inputDim: 10, outputDim: 3, inputLength: 4 },
      { type: 'bidirectional', layer: gru(2), mergeMode: 'concat' },
      head,
    ];
    const names = () => withModel(layers, 1, (m) => ParamLayout.fromModel(m).entries.map((e) => e.name));
    expect(names()).toEqual([
      'embedding_1/embeddings',
      'bidirectional_2/forward_gru_2/kernel',
      'bidirectional_2/forward_gru_2/recurrent_kernel',
      'bidirectional_2/forward_gru_2/bias',
      'bidirectional_2/backward_gru_2/kernel',
      'bidirectional_2/backward_gru_2/recurrent_kernel',
      'bidirectional_2/backward_gru_2/bias',
      'dense_3/kernel',
      'dense_3/bias',
    ]);
    expect(names()).toEqual(names());
  });

  it('saves a model that plain tf.loadLayersModel loads and that predicts the same', async () => {
    const layers: LayerSpec[] = [
      { type: 'embedding', inputDim: 12, outputDim: 4, inputLength: 6 },
      { type: 'bidirectional', layer: gru(3, { returnSequences: true }), mergeMode: 'ave' },
      { type: 'bidirectional', layer: lstm(2, { returnSequences: true }), mergeMode: 'mul' },
      { type: 'globalAveragePooling1d' },
      { type: 'dense', units: 3, activation: 'softmax', useBias: true },
    ];
    const model = buildModel(layers, 5);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 0, 0, 11, 7, 7, 1], [2, 6]);
    expect([...(loaded.predict(x) as tf.Tensor).dataSync()]).toEqual([...(model.predict(x) as tf.Tensor).dataSync()]);
    model.dispose();
    loaded.dispose();
  });
});

describe('resolveInputShape and sampleShape', () => {
  it('take a first gru or bidirectional with inputShape [timesteps, features]', () => {
    for (const first of [gru(2, { inputShape: [4, 3] }), { type: 'bidirectional', layer: lstm(2), mergeMode: 'concat', inputShape: [4, 3] } as LayerSpec]) {
      const resolved = resolveInputShape([first, head], 12, 'job.json');
      expect(sampleShape(resolved, 12)).toEqual([4, 3]);
      const error = thrown(() => resolveInputShape([first, head], 10, 'job.json'), ShapeError, 'E_SHAPE');
      expect(error.message).toBe('job.json: model[0].inputShape [4, 3] holds 12 values per sample, but the data has 10 columns');
    }
    const bare: LayerSpec = { type: 'bidirectional', layer: gru(2), mergeMode: 'concat' };
    expect(thrown(() => resolveInputShape([bare, head], 12, 'job.json'), ShapeError, 'E_SHAPE').message).toBe(
      'job.json: model[0].inputShape is required for a first bidirectional layer ([timesteps, features])',
    );
  });
});
