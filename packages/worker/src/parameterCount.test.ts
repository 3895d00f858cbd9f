import { buildModel, type LayerSpec, layerSpecSchema } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { parameterCountOf } from './parameterCount.js';

const layers = (...specs: unknown[]): LayerSpec[] => specs.map((s) => layerSpecSchema.parse(s));

describe('parameterCountOf', () => {
  it.each([
    ['housing: dense on 12 features', layers({ type: 'dense', units: 64, activation: 'relu', inputShape: [12] }, { type: 'dropout', rate: 0.1 }, { type: 'dense', units: 1 }), [12]],
    ['dense without bias on a 2-D input', layers({ type: 'dense', units: 3, useBias: false, inputShape: [4, 5] }, { type: 'dense', units: 2 }), [20]],
    [
      'spam: embedding, two LSTMs, sigmoid head',
      layers({ type: 'embedding', inputDim: 500, outputDim: 8, inputLength: 10 }, { type: 'lstm', units: 6, returnSequences: true }, { type: 'lstm', units: 4 }, { type: 'dense', units: 1, activation: 'sigmoid' }),
      [10],
    ],
    ['a first LSTM on [timesteps, features]', layers({ type: 'lstm', units: 5, inputShape: [7, 3] }, { type: 'dense', units: 2 }), [21]],
  ])('equals what tfjs builds: %s', (_, specs, inputShape) => {
    const model = buildModel(specs, 1, { initialize: false });
    expect(parameterCountOf({ layers: specs, inputShape })).toBe(model.countParams());
    model.dispose();
  });

  it('counts a model too large to build without building it', () => {
    const huge = layers({ type: 'embedding', inputDim: 1_000_000, outputDim: 1000, inputLength: 10 }, { type: 'dense', units: 1 });
    expect(parameterCountOf({ layers: huge, inputShape: [10] })).toBe(1e9 + 1001);
  });
});
