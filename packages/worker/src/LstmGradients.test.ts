import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, mulberry32, ParamLayout, type WorkerJob } from '@adamant/core';
import { ChunkGradients } from './ChunkGradients.js';
import type { ChunkGradient } from './GradientPath.js';
import { LstmGradients, supportsFusedLstm } from './LstmGradients.js';

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
  const autodiff = ChunkGradients.create(job, 'cpu');
  autodiff.setWeights(weights);
  const fused = new LstmGradients(job, 'cpu');
  fused.setWeights(weights);
  const result = { expected: autodiff.compute(x, y, samples, 0), actual: fused.compute(x, y, samples, 0), fused };
  autodiff.dispose();
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

describe('fused LSTM gradients', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it('accepts the reference model shape and refuses others', () => {
    expect(supportsFusedLstm(textJob)).toBe(true);
    expect(supportsFusedLstm(sequenceJob)).toBe(true);
    expect(supportsFusedLstm({ ...textJob, layers: [textJob.layers[0]!, { type: 'dense', units: 1, activation: 'sigmoid', useBias: true }] })).toBe(false);
    expect(supportsFusedLstm({ ...textJob, layers: textJob.layers.map((l) => (l.type === 'lstm' ? { ...l, recurrentActivation: 'relu' as const } : l)) })).toBe(false);
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

  it('is bitwise deterministic for the same chunk', () => {
    const { job, weights } = weightsFor(textJob);
    const x = Float32Array.from({ length: 3 * 7 }, (_, i) => (i * 7) % 50);
    const y = Float32Array.from([1, 0, 1]);
    const fused = new LstmGradients(job, 'cpu');
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
    const fused = new LstmGradients(job, 'cpu');
    fused.setWeights(weights);
    const x = new Float32Array(7).fill(1);
    x[4] = 50;
    expect(() => fused.compute(x, Float32Array.from([1]), 1, 0)).toThrow(/sample 0, position 4: token id 50 is outside the embedding's 0\.\.49/);
    fused.dispose();
  });
});
