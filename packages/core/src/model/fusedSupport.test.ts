import { describe, expect, it } from 'vitest';
import type { ActivationName, LossName, MetricName } from '../config/names.js';
import type { LayerSpec } from '../config/schema.js';
import { autodiffSlowdown, fusedSupport } from './fusedSupport.js';

const embedding: LayerSpec = { type: 'embedding', inputDim: 100, outputDim: 8, inputLength: 10 };
type Spec<Type extends LayerSpec['type']> = Extract<LayerSpec, { type: Type }>;

const lstm = (returnSequences: boolean, extra: Partial<Spec<'lstm'>> = {}): Spec<'lstm'> => ({
  type: 'lstm',
  units: 4,
  returnSequences,
  activation: 'tanh',
  recurrentActivation: 'sigmoid',
  ...extra,
});
const gru = (returnSequences: boolean): LayerSpec => ({ type: 'gru', units: 4, returnSequences, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false });
const bidirectional = (returnSequences: boolean, activation: ActivationName = 'tanh'): Spec<'bidirectional'> => ({
  type: 'bidirectional',
  layer: { type: 'lstm', units: 4, returnSequences, activation, recurrentActivation: 'sigmoid' },
  mergeMode: 'concat',
});
const dense = (units: number, activation: ActivationName, useBias = true): Spec<'dense'> => ({ type: 'dense', units, activation, useBias });
const dropout: LayerSpec = { type: 'dropout', rate: 0.2 };
const averagePooling: LayerSpec = { type: 'globalAveragePooling1d' };
const maxPooling: LayerSpec = { type: 'globalMaxPooling1d' };

const support = (layers: LayerSpec[], loss: LossName | string = 'binaryCrossentropy', metrics: (MetricName | string)[] = ['accuracy']) => fusedSupport(layers, loss, metrics);

describe('fusedSupport', () => {
  it('accepts the shapes the fused path implements', () => {
    const shapes: LayerSpec[][] = [
      [embedding, lstm(true), lstm(false), dense(1, 'sigmoid')],
      [embedding, dropout, lstm(true), dropout, lstm(false), dropout, dense(64, 'relu'), dense(1, 'sigmoid')],
      [embedding, gru(true), bidirectional(true), averagePooling, dense(8, 'elu', false), dense(3, 'softmax')],
      [embedding, lstm(true), maxPooling, dropout, dense(1, 'linear', false)],
      [embedding, maxPooling, dense(1, 'sigmoid')],
      [lstm(true, { inputShape: [10, 3] }), gru(false), dense(1, 'linear')],
      [{ ...bidirectional(false), inputShape: [10, 3] }, dense(1, 'linear')],
    ];
    for (const layers of shapes) expect(support(layers), layers.map((l) => l.type).join(' ')).toEqual({ ok: true });
    for (const loss of ['meanSquaredError', 'meanAbsoluteError', 'huber', 'sparseCategoricalCrossentropy', 'categoricalCrossentropy']) {
      expect(support(shapes[0]!, loss, ['accuracy', 'mae', 'auc', 'precision', 'recall'])).toEqual({ ok: true });
    }
  });

  it('names the layer that forces autodiff, and why', () => {
    const no = (layerIndex: number, reason: string) => ({ ok: false, layerIndex, reason });
    expect(support([embedding, lstm(false, { activation: 'relu' }), dense(1, 'sigmoid')])).toEqual(
      no(1, 'model[1] (lstm) has activation relu; the fused path implements tanh'),
    );
    expect(support([embedding, lstm(true), lstm(false, { recurrentActivation: 'hardSigmoid' as ActivationName }), dense(1, 'sigmoid')])).toEqual(
      no(2, 'model[2] (lstm) has recurrentActivation hardSigmoid; the fused path implements sigmoid'),
    );
    expect(support([embedding, bidirectional(false, 'relu'), dense(1, 'sigmoid')])).toEqual(no(1, 'model[1] (bidirectional) has activation relu; the fused path implements tanh'));
    expect(support([embedding, lstm(false), lstm(false), dense(1, 'sigmoid')])).toEqual(
      no(2, 'model[2] (lstm) follows a layer that returns one vector per sample; the layer before it needs returnSequences'),
    );
    expect(support([embedding, lstm(true), dense(1, 'sigmoid')])).toEqual(
      no(2, 'model[2] (dense) gets a sequence; the fused path implements dense layers on one vector per sample (end the sequence with returnSequences false or a pooling layer)'),
    );
    expect(support([embedding, lstm(false), averagePooling, dense(1, 'sigmoid')])).toEqual(
      no(2, 'model[2] (globalAveragePooling1d) follows a layer that returns one vector per sample; pooling needs a sequence'),
    );
    expect(support([embedding, lstm(false), dense(1, 'sigmoid'), dropout])).toEqual(
      no(3, 'model[3] (dropout) is the last layer; the fused path implements models that end in a dense head'),
    );
  });

  it('sends dense-only models to autodiff, saying that autodiff is the right path for them', () => {
    const result = support([{ ...dense(16, 'relu'), inputShape: [13] }, dropout, dense(1, 'linear')], 'meanSquaredError', ['mae']);
    expect(result).toEqual({
      ok: false,
      layerIndex: 0,
      reason: 'model[0] (dense) starts a model without an embedding or recurrent layer: tfjs autodiff is the right path for such models, and fast for them',
    });
  });

  it('refuses losses and metrics it does not know (names the protocol may gain later)', () => {
    const layers = [embedding, lstm(false), dense(1, 'sigmoid')];
    expect(support(layers, 'hinge')).toEqual({ ok: false, reason: expect.stringMatching(/^loss hinge is not implemented by the fused path \(meanSquaredError, /) });
    expect(support(layers, 'binaryCrossentropy', ['accuracy', 'f1'])).toEqual({ ok: false, reason: expect.stringMatching(/^metric f1 is not implemented by the fused path/) });
  });
});

describe('autodiffSlowdown', () => {
  it('tells recurrent models from embedding-only and dense-only ones', () => {
    expect(autodiffSlowdown([embedding, lstm(false), dense(1, 'sigmoid')])).toMatch(/recurrent/);
    expect(autodiffSlowdown([embedding, averagePooling, dense(1, 'sigmoid')])).toMatch(/embedding/);
    expect(autodiffSlowdown([{ ...dense(16, 'relu'), inputShape: [13] }, dense(1, 'linear')])).toMatch(/^about 1x/);
  });
});
