import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, evaluateSums, loadJobConfig, prepareData, resolveInputShape } from '@adamant/core';
import { heading, row } from './measure.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const configPath = path.join(root, 'examples/housing/job.json');

/**
 * The housing example end to end: `adamant train --workers 2` against single-process tfjs
 * `model.fit` on the same split, normalisation and initial weights (tfjs shuffles its own way).
 */
export async function benchHousing(): Promise<void> {
  heading('Housing example (MLP 12-64-32-1, MSE, Adam, batch 32, 50 epochs, validation = last 20%)');
  const started = performance.now();
  const run = spawnSync(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'train', configPath, '--workers', '2', '--json', '--out', path.join(root, 'runs/bench-housing')], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`adamant train failed: ${run.stderr}`);
  const wall = (performance.now() - started) / 1000;
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { valLoss: number; valMetrics: { mae: number }; trainingSeconds: number; samples: number };
  row('adamant train --workers 2: validation MSE / MAE', `${result.valLoss.toFixed(2)} / ${result.valMetrics.mae.toFixed(2)}`, `${wall.toFixed(1)} s wall, ${result.trainingSeconds.toFixed(1)} s in training steps`);

  const config = loadJobConfig(configPath);
  await tf.setBackend('wasm');
  const data = prepareData(config);
  const model = buildModel(resolveInputShape(config.model, data.train.featureCount, configPath), config.seed);
  const { learningRate, beta1, beta2, epsilon } = config.optimizer as { learningRate: number; beta1: number; beta2: number; epsilon: number };
  model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: config.loss });
  const x = tf.tensor2d(data.train.x, [data.train.rows, data.train.featureCount]);
  const y = tf.tensor2d(data.train.y, [data.train.rows, 1]);
  const fitStart = performance.now();
  await model.fit(x, y, { batchSize: config.batchSize, epochs: config.epochs, shuffle: true, verbose: 0 });
  const fitSeconds = (performance.now() - fitStart) / 1000;
  const vx = tf.tensor2d(data.validation.x, [data.validation.rows, data.validation.featureCount]);
  const vy = tf.tensor2d(data.validation.y, [data.validation.rows, 1]);
  const sums = evaluateSums(model, config.loss, ['mae'], vx, vy);
  row('single-process tfjs model.fit (wasm): validation MSE / MAE', `${(sums.lossSum / sums.samples).toFixed(2)} / ${(sums.metricSums[0]! / sums.samples).toFixed(2)}`, `${fitSeconds.toFixed(1)} s training`);
}
