import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, prepareData, type JobConfig } from '@adamant/core';

/**
 * Single-process training with plain TensorFlow.js `model.fit`, the yardstick for the
 * distributed runs: same data split and normalisation, same initial weights, same Adam.
 */
export async function fitReference(config: JobConfig, initDir: string, epochs: number): Promise<Float32Array[]> {
  const data = prepareData(config);
  const model = await loadModel(initDir);
  const { learningRate, beta1, beta2, epsilon } = config.optimizer as { learningRate: number; beta1: number; beta2: number; epsilon: number };
  model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: config.loss });
  const x = tf.tensor2d(data.train.x, [data.train.rows, data.train.featureCount]);
  const y = tf.tensor2d(data.train.y, [data.train.rows, 1]);
  await model.fit(x, y, { batchSize: config.batchSize, epochs, shuffle: false, verbose: 0 });
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  x.dispose();
  y.dispose();
  model.dispose();
  return weights;
}

/** The weights of a saved model directory, one array per weight. */
export async function savedWeights(dir: string): Promise<Float32Array[]> {
  const model = await loadModel(dir);
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return weights;
}

/** The raw bytes of a saved model's weights file: equal bytes mean bitwise-identical weights. */
export function weightBytes(dir: string): Buffer {
  return readFileSync(path.join(dir, 'weights.bin'));
}
