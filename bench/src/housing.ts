import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, evaluateSums, loadJobConfig, prepareData, resolveInputShape } from '@adamant/core';
import { root, samplesPerSecond, train } from './cliRuns.js';
import { alternate, progress } from './measure.js';
import type { BenchRow } from './results.js';

const configPath = path.join(root, 'examples/housing/job.json');

/** tfjs `model.fit` of the housing job in this process (wasm): same split, normalisation and initial weights; tfjs shuffles its own way. */
async function fitOnce(): Promise<{ samplesPerSecond: number; valMse: number; trainRows: number }> {
  const config = loadJobConfig(configPath);
  await tf.setBackend('wasm');
  const data = prepareData(config);
  const model = buildModel(resolveInputShape(config.model, data.train.featureCount, configPath), config.seed);
  const { learningRate, beta1, beta2, epsilon } = config.optimizer as { learningRate: number; beta1: number; beta2: number; epsilon: number };
  model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: config.loss });
  const x = tf.tensor2d(data.train.x, [data.train.rows, data.train.featureCount]);
  const y = tf.tensor2d(data.train.y, [data.train.rows, 1]);
  const started = performance.now();
  await model.fit(x, y, { batchSize: config.batchSize, epochs: config.epochs, shuffle: true, verbose: 0 });
  const seconds = (performance.now() - started) / 1000;
  const vx = tf.tensor2d(data.validation.x, [data.validation.rows, data.validation.featureCount]);
  const vy = tf.tensor2d(data.validation.y, [data.validation.rows, 1]);
  const sums = evaluateSums(model, config.loss, ['mae'], vx, vy);
  tf.dispose([x, y, vx, vy]);
  model.dispose();
  return { samplesPerSecond: (data.train.rows * config.epochs) / seconds, valMse: sums.lossSum / sums.samples, trainRows: data.train.rows };
}

/**
 * The housing example with one worker (`adamant train --workers 1`, real processes) against tfjs
 * `model.fit` of the same model, batch and epochs in one process, in alternation: training
 * samples/s (Adamant's from its --json trainingSeconds: the steps only).
 */
export async function benchHousing(): Promise<BenchRow[]> {
  progress('housing: adamant train --workers 1 and model.fit, 3 rounds');
  const mse = { adamant: 0, fit: 0 };
  let trainRows = 0;
  const timing = await alternate(
    {
      adamant: () => {
        const summary = train(configPath, ['--workers', '1']);
        mse.adamant = summary.valLoss ?? Number.NaN;
        return samplesPerSecond(summary);
      },
      fit: async () => {
        const fit = await fitOnce();
        mse.fit = fit.valMse;
        trainRows = fit.trainRows;
        return fit.samplesPerSecond;
      },
    },
    3,
  );
  return [
    {
      section: 'housing',
      name: 'housing example: adamant train --workers 1 vs tfjs model.fit',
      sizes: `MLP 12-64-32-1, batch 32, 50 epochs of ${trainRows} rows, wasm`,
      a: { label: 'adamant train --workers 1 (steps only)', value: timing.median.adamant, unit: 'samples/s' },
      b: { label: 'tfjs model.fit, one process', value: timing.median.fit, unit: 'samples/s' },
      ratio: timing.ratio('adamant', 'fit'),
      note: `validation MSE ${mse.adamant.toFixed(2)} vs ${mse.fit.toFixed(2)} (tfjs shuffles with Math.random)`,
    },
  ];
}
