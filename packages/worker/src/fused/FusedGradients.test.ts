import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, mulberry32, ParamLayout, type ActivationName, type LayerSpec, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from '../AutodiffGradients.js';
import type { GemmEngine } from '../gemm/GemmEngine.js';
import { probeGemmEngines } from '../gemm/loadGemmEngine.js';
import type { ChunkGradient } from '../GradientPath.js';
import { FusedGradients } from './FusedGradients.js';

/** The engine the fused path of the suite running now computes with (each engine runs every suite below). */
let gemm: GemmEngine;

const [VOCABULARY, LENGTH] = [30, 5];
const embedding: LayerSpec = { type: 'embedding', inputDim: VOCABULARY, outputDim: 6, inputLength: LENGTH };
const lstm = (units: number, returnSequences: boolean, inputShape?: [number, number]): LayerSpec => ({
  type: 'lstm',
  units,
  returnSequences,
  activation: 'tanh',
  recurrentActivation: 'sigmoid',
  ...(inputShape ? { inputShape } : {}),
});
const gru = (units: number, returnSequences: boolean): LayerSpec => ({ type: 'gru', units, returnSequences, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false });
const bidirectional = (inner: LayerSpec, mergeMode: 'concat' | 'sum' | 'ave' | 'mul'): LayerSpec => ({
  type: 'bidirectional',
  layer: inner as Extract<LayerSpec, { type: 'bidirectional' }>['layer'],
  mergeMode,
});
const dense = (units: number, activation: ActivationName, useBias = true): LayerSpec => ({ type: 'dense', units, activation, useBias });
const dropout = (rate: number): LayerSpec => ({ type: 'dropout', rate });

function jobOf(layers: LayerSpec[], loss: WorkerJob['loss'], metrics: WorkerJob['metrics'] = []): WorkerJob {
  const first = layers[0]!;
  const inputShape = first.type === 'embedding' ? [LENGTH] : [...(first as { inputShape: number[] }).inputShape];
  return { layers, loss, metrics, backend: 'cpu', seed: 3, inputShape, paramCount: 0 };
}

/** Seeded initial weights, perturbed so that no gradient is trivially zero. */
function withWeights(job: WorkerJob): { job: WorkerJob; weights: Float32Array; layout: ParamLayout } {
  const model = buildModel(job.layers, job.seed);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  model.dispose();
  const random = mulberry32(11);
  for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! + (random() - 0.5) * 0.4;
  return { job: { ...job, paramCount: layout.size }, weights, layout };
}

/** A chunk: token ids (or floats in [-1, 1] for a first recurrent layer) and targets from `target`. */
function chunkOf(job: WorkerJob, samples: number, target: (random: () => number) => number, seed = 5) {
  const random = mulberry32(seed);
  const perSample = job.inputShape.reduce((a, b) => a * b, 1);
  const tokens = job.layers[0]!.type === 'embedding';
  const x = Float32Array.from({ length: samples * perSample }, () => (tokens ? Math.floor(random() * VOCABULARY) : random() * 2 - 1));
  const y = Float32Array.from({ length: samples }, () => target(random));
  return { x, y, samples };
}

const binary = (random: () => number) => (random() < 0.5 ? 0 : 1);
const classes = (count: number) => (random: () => number) => Math.floor(random() * count);
const real = (random: () => number) => random() * 3 - 1;

/** |actual - expected| <= 1e-5 max(1, |expected|) for every element, and not all of them zero. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, name: string): void {
  expect(actual.length, name).toBe(expected.length);
  let worst = 0;
  let largest = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
    largest = Math.max(largest, Math.abs(expected[i]!));
  }
  expect(largest, `${name} is not all zero`).toBeGreaterThan(0);
  expect(worst, name).toBeLessThanOrEqual(1e-5);
}

/** The fused and the autodiff result of one chunk on the same weights and seed. */
function both(job: WorkerJob, weights: Float32Array, chunk: { x: Float32Array; y: Float32Array; samples: number }, seed = 17) {
  const autodiff = AutodiffGradients.create(job, 'cpu');
  autodiff.setWeights(weights);
  const fused = new FusedGradients(job, 'cpu', gemm);
  fused.setWeights(weights);
  const expected = autodiff.compute(chunk.x, chunk.y, chunk.samples, seed);
  const actual = fused.compute(chunk.x, chunk.y, chunk.samples, seed);
  autodiff.dispose();
  fused.dispose();
  return { expected, actual };
}

/** Every weight's gradient, the embedding rows, the loss and the metric statistics agree. */
function expectAgreement(actual: ChunkGradient, expected: ChunkGradient, layout: ParamLayout): void {
  const table = expected.sparse ? layout.entries[0]!.size : 0;
  for (const entry of layout.entries.slice(table ? 1 : 0)) {
    const from = entry.offset - table;
    expectClose(actual.dense.subarray(from, from + entry.size), expected.dense.subarray(from, from + entry.size), entry.name);
  }
  expect(actual.sparse === undefined).toBe(expected.sparse === undefined);
  if (expected.sparse) {
    expect(Array.from(actual.sparse!.rows)).toEqual(Array.from(expected.sparse.rows));
    expectClose(actual.sparse!.values, expected.sparse.values, layout.entries[0]!.name);
  }
  expect(Math.abs(actual.lossSum - expected.lossSum) / Math.max(1, Math.abs(expected.lossSum))).toBeLessThanOrEqual(1e-5);
  expect(actual.metricSums.length).toBe(expected.metricSums.length);
  actual.metricSums.forEach((value, i) => {
    expect(Math.abs(value - expected.metricSums[i]!), `metric statistic ${i}`).toBeLessThanOrEqual(1e-5);
  });
}

function check(layers: LayerSpec[], loss: WorkerJob['loss'], metrics: WorkerJob['metrics'], target: (random: () => number) => number, samples = 6) {
  const { job, weights, layout } = withWeights(jobOf(layers, loss, metrics));
  const chunk = chunkOf(job, samples, target);
  const { expected, actual } = both(job, weights, chunk);
  expectAgreement(actual, expected, layout);
  return { actual, expected };
}

for (const { name, engine, unavailable } of probeGemmEngines()) {
  // OpenBLAS is installed here and in CI; elsewhere its suites are skipped, with the reason in their name.
  describe.skipIf(!engine)(`the ${name} GEMM engine${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
    beforeAll(() => {
      gemm = engine!;
    });

    describe('the fused path equals tfjs autodiff on the same weights, chunk and seed', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      it('the reference shape: Embedding -> LSTM -> LSTM -> Dense(1, sigmoid), binary cross-entropy', () => {
        const { actual } = check([embedding, lstm(8, true), lstm(5, false), dense(1, 'sigmoid')], 'binaryCrossentropy', ['accuracy', 'mae'], binary);
        expect(actual.metricSums[0]).toBeGreaterThan(0);
      });

      it('dropout after the embedding, between the LSTMs and before a Dense(8, relu) ahead of the head', () => {
        const layers = [embedding, dropout(0.3), lstm(8, true), dropout(0.4), lstm(5, false), dropout(0.25), dense(8, 'relu'), dense(1, 'sigmoid')];
        check(layers, 'binaryCrossentropy', ['accuracy'], binary);
      });

      it('globalAveragePooling1d and globalMaxPooling1d after a sequence', () => {
        for (const type of ['globalAveragePooling1d', 'globalMaxPooling1d'] as const) {
          check([embedding, lstm(7, true), { type }, dense(1, 'sigmoid')], 'binaryCrossentropy', ['accuracy'], binary);
        }
      });

      it('globalMaxPooling1d right after the embedding, where repeated tokens tie', () => {
        const { job, weights, layout } = withWeights(jobOf([embedding, { type: 'globalMaxPooling1d' }, dense(4, 'tanh'), dense(1, 'sigmoid')], 'binaryCrossentropy'));
        // Sample 0 repeats token 3, sample 1 is all token 7: every max ties.
        const x = Float32Array.from([3, 3, 1, 3, 2, 7, 7, 7, 7, 7]);
        const { expected, actual } = both(job, weights, { x, y: Float32Array.from([1, 0]), samples: 2 });
        expectAgreement(actual, expected, layout);
      });

      it('a softmax head with sparse and with one-hot categorical cross-entropy', () => {
        for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const) {
          check([embedding, lstm(6, false), dense(8, 'elu'), dense(4, 'softmax')], loss, ['accuracy'], classes(4), 8);
        }
      });

      it('a linear head on float sequences (a first lstm with inputShape) with MSE, MAE and huber', () => {
        for (const loss of ['meanSquaredError', 'meanAbsoluteError', 'huber'] as const) {
          check([lstm(6, true, [LENGTH, 3]), lstm(4, false), dense(1, 'linear')], loss, ['mae'], real);
        }
      });

      it('a sigmoid head with auc, precision and recall', () => {
        const { actual } = check([embedding, lstm(6, false), dense(1, 'sigmoid')], 'binaryCrossentropy', ['auc', 'precision', 'recall', 'accuracy'], binary, 12);
        expect(actual.metricSums.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      });

      it('dense layers without a bias, the head included', () => {
        check([embedding, lstm(6, false), dense(5, 'sigmoid', false), dense(5, 'selu'), dense(1, 'sigmoid', false)], 'binaryCrossentropy', [], binary);
      });

      it('a GRU stack (resetAfter false) with dropout and a softmax head', () => {
        check([embedding, gru(6, true), dropout(0.3), gru(5, false), dense(3, 'softmax')], 'sparseCategoricalCrossentropy', ['accuracy'], classes(3));
      });

      it('bidirectional LSTM and GRU layers in every merge mode', () => {
        check([embedding, bidirectional(lstm(5, true), 'concat'), bidirectional(gru(4, false), 'sum'), dense(1, 'sigmoid')], 'binaryCrossentropy', ['accuracy'], binary);
        check([embedding, bidirectional(gru(4, true), 'mul'), dropout(0.2), bidirectional(lstm(3, false), 'ave'), dense(1, 'sigmoid')], 'binaryCrossentropy', [], binary);
      });
    });

    describe('sample weights: the fused path equals tfjs autodiff with weights too', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      /** Weights in [0, 3), one of them 0 (a sample that counts for nothing). */
      const weightsOf = (samples: number): Float32Array => {
        const random = mulberry32(23);
        return Float32Array.from({ length: samples }, (_, b) => (b === 1 ? 0 : random() * 3));
      };

      function checkWeighted(layers: LayerSpec[], loss: WorkerJob['loss'], metrics: WorkerJob['metrics'], target: (random: () => number) => number, samples = 8) {
        const { job, weights, layout } = withWeights(jobOf(layers, loss, metrics));
        const chunk = chunkOf(job, samples, target);
        const w = weightsOf(samples);
        const autodiff = AutodiffGradients.create(job, 'cpu');
        autodiff.setWeights(weights);
        const fused = new FusedGradients(job, 'cpu', gemm);
        fused.setWeights(weights);
        const unweighted = fused.compute(chunk.x, chunk.y, samples, 17).lossSum;
        const expected = autodiff.compute(chunk.x, chunk.y, samples, 17, w);
        const actual = fused.compute(chunk.x, chunk.y, samples, 17, w);
        expectAgreement(actual, expected, layout);
        // The weights took effect, and the metrics ignore them (Keras's `metrics`, not `weighted_metrics`).
        expect(Math.abs(actual.lossSum - unweighted)).toBeGreaterThan(1e-3);
        const plain = autodiff.compute(chunk.x, chunk.y, samples, 17);
        expect(expected.metricSums).toEqual(plain.metricSums);
        // Forward only: the loss is weighted the same way on both paths.
        const evaluated = { fused: fused.evaluate(chunk.x, chunk.y, samples, w), autodiff: autodiff.evaluate(chunk.x, chunk.y, samples, w) };
        expect(Math.abs(evaluated.fused.lossSum - evaluated.autodiff.lossSum) / Math.max(1, Math.abs(evaluated.autodiff.lossSum))).toBeLessThanOrEqual(1e-5);
        autodiff.dispose();
        fused.dispose();
      }

      it('a sigmoid head with binary cross-entropy, behind dropout', () => {
        checkWeighted([embedding, dropout(0.3), lstm(6, false), dense(1, 'sigmoid')], 'binaryCrossentropy', ['accuracy'], binary);
      });

      it('a softmax head with sparse categorical cross-entropy', () => {
        checkWeighted([embedding, gru(5, false), dense(3, 'softmax')], 'sparseCategoricalCrossentropy', ['accuracy'], classes(3));
      });

      it('a linear head with MSE and huber', () => {
        for (const loss of ['meanSquaredError', 'huber'] as const) checkWeighted([lstm(5, false, [LENGTH, 3]), dense(1, 'linear')], loss, ['mae'], real);
      });

      it('weights of 1 give the unweighted bits, and a weight of 2 equals the sample twice', () => {
        const { job, weights } = withWeights(jobOf([embedding, lstm(6, false), dense(1, 'sigmoid')], 'binaryCrossentropy'));
        const { x, y } = chunkOf(job, 3, binary);
        const fused = new FusedGradients(job, 'cpu', gemm);
        fused.setWeights(weights);
        const copy = (r: ChunkGradient) => ({ dense: r.dense.slice(), values: r.sparse!.values.slice(), lossSum: r.lossSum });
        const plain = copy(fused.compute(x, y, 3, 5));
        const ones = copy(fused.compute(x, y, 3, 5, new Float32Array(3).fill(1)));
        expect(Buffer.from(ones.dense.buffer).equals(Buffer.from(plain.dense.buffer))).toBe(true);
        expect(Buffer.from(ones.values.buffer).equals(Buffer.from(plain.values.buffer))).toBe(true);
        expect(ones.lossSum).toBe(plain.lossSum);
        const doubled = copy(fused.compute(x, y, 3, 5, Float32Array.of(2, 1, 1)));
        const repeated = copy(fused.compute(Float32Array.from([...x.subarray(0, LENGTH), ...x]), Float32Array.from([y[0]!, ...y]), 4, 5));
        expectClose(doubled.dense, repeated.dense, 'gradient with a weight of 2');
        expect(doubled.lossSum).toBeCloseTo(repeated.lossSum, 5);
        expect(() => fused.compute(x, y, 3, 5, new Float32Array(2))).toThrow('chunk of 3 samples has 2 sample weights');
        fused.dispose();
      });
    });

    describe('fused results are reproducible', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      const bytes = (r: ChunkGradient) => [Buffer.from(r.dense.slice().buffer), Buffer.from(r.sparse!.values.slice().buffer), Buffer.from(Float64Array.from(r.metricSums).buffer)];

      it('the same chunk and seed twice give the same bits, a different seed different dropout', () => {
        const layers = [embedding, dropout(0.3), lstm(8, true), dropout(0.4), lstm(5, false), dense(8, 'relu'), dense(1, 'sigmoid')];
        const { job, weights } = withWeights(jobOf(layers, 'binaryCrossentropy', ['accuracy', 'auc']));
        const { x, y } = chunkOf(job, 4, binary);
        const fused = new FusedGradients(job, 'cpu', gemm);
        fused.setWeights(weights);
        // Copies: compute() reuses its buffers. A different chunk in between must not leak into the next result.
        const first = bytes(fused.compute(x, y, 4, 21));
        const lossA = fused.compute(x, y, 4, 21).lossSum;
        fused.compute(x.map((v) => (v + 3) % VOCABULARY), Float32Array.from([0, 1, 0, 1]), 4, 22);
        const again = fused.compute(x, y, 4, 21);
        bytes(again).forEach((part, i) => {
          expect(part.equals(first[i]!), `part ${i}`).toBe(true);
        });
        expect(again.lossSum).toBe(lossA);
        expect(fused.compute(x, y, 4, 99).lossSum).not.toBe(lossA);
        fused.dispose();
      });

      it('rejects token ids outside the vocabulary, naming sample and position', () => {
        const { job, weights } = withWeights(jobOf([embedding, lstm(4, false), dense(1, 'sigmoid')], 'binaryCrossentropy'));
        const fused = new FusedGradients(job, 'cpu', gemm);
        fused.setWeights(weights);
        const x = new Float32Array(LENGTH).fill(1);
        x[4] = VOCABULARY;
        expect(() => fused.compute(x, Float32Array.from([1]), 1, 0)).toThrow(`sample 0, position 4: token id ${VOCABULARY} is outside the embedding's 0..${VOCABULARY - 1}`);
        fused.dispose();
      });

      it('refuses a job fusedSupport refuses, and a parameter count that is not the model', () => {
        const { job } = withWeights(jobOf([embedding, lstm(4, false), dense(1, 'sigmoid')], 'binaryCrossentropy'));
        const relu = { ...job, layers: [embedding, { ...lstm(4, false), activation: 'relu' as const }, dense(1, 'sigmoid')] };
        expect(() => new FusedGradients(relu, 'cpu', gemm)).toThrow('the fused path does not support this model: model[1] (lstm) has activation relu');
        expect(() => new FusedGradients({ ...job, paramCount: job.paramCount + 1 }, 'cpu', gemm)).toThrow(`the model has ${job.paramCount} parameters`);
      });
    });

    describe('fused inference', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      it('predict equals tfjs predict, and evaluate sums the loss and statistics without dropout', () => {
        const layers = [embedding, dropout(0.5), lstm(6, true), { type: 'globalAveragePooling1d' as const }, dropout(0.5), dense(3, 'softmax')];
        const { job, weights, layout } = withWeights(jobOf(layers, 'sparseCategoricalCrossentropy', ['accuracy']));
        const samples = 300; // more than one inference slice
        const { x, y } = chunkOf(job, samples, classes(3));
        const fused = new FusedGradients(job, 'cpu', gemm);
        fused.setWeights(weights);
        const model = buildModel(job.layers, job.seed, { initialize: false });
        layout.write(model, weights);
        const expected = tf.tidy(() => (model.predict(tf.tensor2d(x, [samples, LENGTH])) as tf.Tensor).dataSync() as Float32Array);
        const predicted = fused.predict(x, samples);
        expectClose(predicted, expected, 'predictions');
        const { lossSum, metricSums } = fused.evaluate(x, y, samples);
        let loss = 0;
        let hits = 0;
        for (let b = 0; b < samples; b++) {
          const row = Array.from(predicted.subarray(b * 3, b * 3 + 3));
          loss -= Math.log(row[y[b]!]!);
          if (row.indexOf(Math.max(...row)) === y[b]) hits++;
        }
        expect(lossSum / loss - 1).toBeCloseTo(0, 5);
        expect(metricSums).toEqual([hits]);
        model.dispose();
        fused.dispose();
      });
    });
  });
}
