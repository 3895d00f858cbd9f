import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, mulberry32, ParamLayout, type LayerSpec, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { FusedLstmGradients } from './FusedLstmGradients.js';
import { fusedLstmSupport, supportsFusedLstm } from './fusedLstmSupport.js';
import type { ChunkGradient } from './GradientPath.js';

const textJob: WorkerJob = {
  layers: [
    { type: 'embedding', inputDim: 50, outputDim: 8, inputLength: 7 },
    { type: 'lstm', units: 12, returnSequences: true, activation: 'tanh', recurrentActivation: 'sigmoid' },
    { type: 'lstm', units: 6, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' },
    { type: 'dense', units: 1, activation: 'sigmoid', useBias: true },
  ],
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
  backend: 'cpu',
  seed: 3,
  inputShape: [7],
  paramCount: 0,
};

const sequenceJob: WorkerJob = {
  layers: [
    { type: 'lstm', units: 10, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid', inputShape: [5, 3] },
    { type: 'dense', units: 1, activation: 'linear', useBias: true },
  ],
  loss: 'meanSquaredError',
  metrics: ['mae'],
  backend: 'cpu',
  seed: 9,
  inputShape: [5, 3],
  paramCount: 0,
};

/** Seeded initial weights, perturbed so that no gradient is trivially zero. */
function weightsFor(job: WorkerJob): { job: WorkerJob; weights: Float32Array; layout: ParamLayout } {
  const model = buildModel(job.layers, job.seed);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  model.dispose();
  const random = mulberry32(11);
  for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! + (random() - 0.5) * 0.4;
  return { job: { ...job, paramCount: layout.size }, weights, layout };
}

function both(job: WorkerJob, weights: Float32Array, x: Float32Array, y: Float32Array, samples: number) {
  const autodiff = AutodiffGradients.create(job, 'cpu');
  autodiff.setWeights(weights);
  const fused = new FusedLstmGradients(job, 'cpu');
  fused.setWeights(weights);
  const result = { expected: autodiff.compute(x, y, samples, 0), actual: fused.compute(x, y, samples, 0) };
  autodiff.dispose();
  fused.dispose();
  return result;
}

/** Per weight: max |actual - expected| <= 1e-5 x max |expected| (the weight's own scale). */
function expectClose(actual: Float32Array, expected: Float32Array, name: string): void {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  expect(scale, `${name} has a non-zero gradient`).toBeGreaterThan(0);
  expect(worst / scale, name).toBeLessThanOrEqual(1e-5);
}

function compareDense(actual: ChunkGradient, expected: ChunkGradient, layout: ParamLayout, skip: number): void {
  expect(actual.dense.length).toBe(expected.dense.length);
  for (const entry of layout.entries.slice(skip)) {
    const from = entry.offset - (skip ? layout.entries[0]!.size : 0);
    expectClose(actual.dense.subarray(from, from + entry.size), expected.dense.subarray(from, from + entry.size), entry.name);
  }
}

const lstm = (units: number, returnSequences: boolean) => ({ type: 'lstm' as const, units, returnSequences, activation: 'tanh' as const, recurrentActivation: 'sigmoid' as const });
const dense = (units: number, activation: 'linear' | 'relu' | 'sigmoid' | 'softmax') => ({ type: 'dense' as const, units, activation, useBias: true });
const reason = (job: WorkerJob) => {
  const support = fusedLstmSupport(job);
  return support.ok ? 'supported' : support.reason;
};

describe('fusedLstmSupport', () => {
  it('accepts the reference shapes, with the head it found', () => {
    expect(fusedLstmSupport(textJob)).toEqual({ ok: true, head: { activation: 'sigmoid', loss: 'binaryCrossentropy', metrics: ['accuracy'] } });
    expect(fusedLstmSupport(sequenceJob)).toEqual({ ok: true, head: { activation: 'linear', loss: 'meanSquaredError', metrics: ['mae'] } });
    expect(supportsFusedLstm(textJob)).toBe(true);
    expect(supportsFusedLstm({ ...textJob, loss: 'meanSquaredError', metrics: ['mae', 'accuracy'] })).toBe(true);
  });

  it('names the layer that forces autodiff', () => {
    const embedding = textJob.layers[0]!;
    const model = (...layers: LayerSpec[]) => reason({ ...textJob, layers: [embedding, ...layers] });
    expect(model(lstm(6, false), { type: 'dropout', rate: 0.2 }, dense(1, 'sigmoid'))).toBe('model[2] (dropout) is not an lstm');
    expect(model(lstm(6, false), dense(8, 'relu'), dense(1, 'sigmoid'))).toBe('model[2] (dense) is not an lstm');
    expect(model(lstm(6, false), dense(2, 'softmax'))).toBe('the head, model[2], has 2 units; the fused path implements 1');
    expect(model(lstm(6, false), dense(1, 'softmax'))).toBe("the head's activation softmax is not implemented by the fused path (linear, sigmoid)");
    expect(model(lstm(6, false), { ...dense(1, 'sigmoid'), useBias: false })).toBe('the head, model[2], has no bias; the fused path implements a biased head');
    expect(model(dense(1, 'sigmoid'))).toBe('there is no lstm before the head');
    expect(model(lstm(6, false))).toBe('model[1] (lstm) is not a dense head');
    expect(model(lstm(6, false), lstm(6, false), dense(1, 'sigmoid'))).toBe('model[1] (lstm) feeds another lstm without returnSequences');
    expect(model(lstm(6, true), dense(1, 'sigmoid'))).toBe('model[1] (lstm) feeds the head with returnSequences');
    expect(model({ ...lstm(6, false), recurrentActivation: 'relu' }, dense(1, 'sigmoid'))).toBe('model[1] (lstm) has recurrentActivation relu; the fused path implements sigmoid');
    expect(model(lstm(6, true), { ...lstm(6, false), activation: 'relu' }, dense(1, 'sigmoid'))).toBe('model[2] (lstm) has activation relu; the fused path implements tanh');
  });

  it('accepts only the losses and metrics the fused head implements', () => {
    // Names the protocol does not have today: a loss or metric added to it later must not train as MSE or MAE.
    expect(reason({ ...textJob, loss: 'hinge' as WorkerJob['loss'] })).toBe('loss hinge is not implemented by the fused path (binaryCrossentropy, meanSquaredError)');
    expect(reason({ ...textJob, metrics: ['accuracy', 'auc' as WorkerJob['metrics'][number]] })).toBe('metric auc is not implemented by the fused path (accuracy, mae)');
  });

  it('is what the fused path checks on construction', () => {
    const job = { ...textJob, layers: [textJob.layers[0]!, textJob.layers[2]!, { type: 'dropout' as const, rate: 0.5 }, textJob.layers[3]!] };
    expect(() => new FusedLstmGradients(job, 'cpu')).toThrow('the fused LSTM path does not support this model: model[2] (dropout) is not an lstm');
  });
});

describe('fused LSTM gradients', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it('equal tfjs autodiff for Embedding -> LSTM -> LSTM -> Dense(sigmoid), every weight within 1e-5 relative', () => {
    const { job, weights, layout } = weightsFor(textJob);
    const samples = 6;
    const random = mulberry32(5);
    const x = Float32Array.from({ length: samples * 7 }, () => Math.floor(random() * 50));
    const y = Float32Array.from({ length: samples }, () => (random() < 0.5 ? 0 : 1));
    const { expected, actual } = both(job, weights, x, y, samples);
    compareDense(actual, expected, layout, 1);
    // The embedding: the same touched rows, the same sums.
    expect(Array.from(actual.sparse!.rows)).toEqual(Array.from(expected.sparse!.rows));
    expectClose(actual.sparse!.values, expected.sparse!.values, 'embedding_1/embeddings');
    expect(actual.lossSum).toBeCloseTo(expected.lossSum, 5);
    expect(actual.metricSums).toEqual(expected.metricSums);
  });

  it('equal tfjs autodiff for a float-sequence LSTM regression (MSE, linear head)', () => {
    const { job, weights, layout } = weightsFor(sequenceJob);
    const samples = 4;
    const random = mulberry32(8);
    const x = Float32Array.from({ length: samples * 15 }, () => random() * 2 - 1);
    const y = Float32Array.from({ length: samples }, () => random() * 3);
    const { expected, actual } = both(job, weights, x, y, samples);
    expect(actual.sparse).toBeUndefined();
    compareDense(actual, expected, layout, 0);
    expect(actual.lossSum).toBeCloseTo(expected.lossSum, 4);
    expect(actual.metricSums[0]).toBeCloseTo(expected.metricSums[0]!, 4);
  });

  it('equal tfjs autodiff in accuracy and mae, under either loss', () => {
    const random = mulberry32(21);
    const samples = 16;
    const x = Float32Array.from({ length: samples * 7 }, () => Math.floor(random() * 50));
    const y = Float32Array.from({ length: samples }, () => (random() < 0.5 ? 0 : 1));
    for (const loss of ['binaryCrossentropy', 'meanSquaredError'] as const) {
      const { job, weights } = weightsFor({ ...textJob, loss, metrics: ['accuracy', 'mae'] });
      const { expected, actual } = both(job, weights, x, y, samples);
      // Accuracy is a count: equal exactly, and neither all nor none of the samples (else it would check little).
      expect(actual.metricSums[0], loss).toBe(expected.metricSums[0]);
      expect(actual.metricSums[0], loss).toBeGreaterThan(0);
      expect(actual.metricSums[0], loss).toBeLessThan(samples);
      expect(actual.metricSums[1]! / expected.metricSums[1]! - 1, loss).toBeCloseTo(0, 6);
      expect(actual.lossSum / expected.lossSum - 1, loss).toBeCloseTo(0, 5);
    }
  });

  it('is bitwise deterministic for the same chunk', () => {
    const { job, weights } = weightsFor(textJob);
    const x = Float32Array.from({ length: 3 * 7 }, (_, i) => (i * 7) % 50);
    const y = Float32Array.from([1, 0, 1]);
    const fused = new FusedLstmGradients(job, 'cpu');
    fused.setWeights(weights);
    const bytes = (r: ChunkGradient) => [Buffer.from(r.dense.slice().buffer), Buffer.from(r.sparse!.values.slice().buffer)];
    // Copies: compute() reuses its buffers. A different chunk in between must not leak into the next result.
    const [denseA, sparseA] = bytes(fused.compute(x, y, 3, 0));
    fused.compute(x.map((v) => (v + 3) % 50), Float32Array.from([0, 1, 0]), 3, 0);
    const [denseB, sparseB] = bytes(fused.compute(x, y, 3, 0));
    expect(denseB!.equals(denseA!)).toBe(true);
    expect(sparseB!.equals(sparseA!)).toBe(true);
    fused.dispose();
  });

  it('rejects token ids outside the vocabulary, naming sample and position', () => {
    const { job, weights } = weightsFor(textJob);
    const fused = new FusedLstmGradients(job, 'cpu');
    fused.setWeights(weights);
    const x = new Float32Array(7).fill(1);
    x[4] = 50;
    expect(() => fused.compute(x, Float32Array.from([1]), 1, 0)).toThrow(/sample 0, position 4: token id 50 is outside the embedding's 0\.\.49/);
    fused.dispose();
  });
});
