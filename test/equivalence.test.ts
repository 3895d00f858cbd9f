import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobConfig } from '@adamant/core';
import { housingConfigPath, jsonResult, runCli, tempDir, writeJson } from './support/cli.js';
import { fitReference, savedWeights, weightBytes } from './support/reference.js';

/**
 * The core promise: synchronous training on N worker processes equals single-process tfjs
 * training on the same global batches, and is bitwise identical whatever N is.
 */
describe('adamant train on the housing example', () => {
  const tmp = tempDir();
  const epochs = 2;
  let configPath: string;
  const outDir = (n: number) => path.join(tmp.dir, `out-${n}`);
  const initDir = path.join(tmp.dir, 'init');

  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
    const config = loadJobConfig(housingConfigPath);
    configPath = writeJson(path.join(tmp.dir, 'job.json'), { ...config, shuffle: false, epochs });
    const init = await runCli(['train', configPath, '--epochs', '0', '--out', initDir]);
    expect(init.code, init.stderr).toBe(0);
    for (const workers of [1, 2, 3]) {
      const run = await runCli(['train', configPath, '--workers', String(workers), '--init', initDir, '--out', outDir(workers), '--json']);
      expect(run.code, run.stderr).toBe(0);
      const result = jsonResult(run);
      expect(result.workers).toBe(workers);
      expect(result.epochs).toBe(epochs);
      expect(result.steps).toBe(2 * Math.ceil(404 / 32));
      expect(result.samples).toBe(2 * 404);
    }
  });

  afterAll(() => tmp.cleanup());

  it('1, 2 and 3 workers give bitwise-identical weights', () => {
    const one = weightBytes(outDir(1));
    // Every weight of the 12 -> 64 -> 32 -> 1 model, as float32.
    expect(one.length).toBe(4 * (12 * 64 + 64 + 64 * 32 + 32 + 32 + 1));
    expect(weightBytes(outDir(2)).equals(one)).toBe(true);
    expect(weightBytes(outDir(3)).equals(one)).toBe(true);
    // Training moved the weights: the equality above is not between untouched copies.
    expect(weightBytes(initDir).equals(one)).toBe(false);
  });

  it.each([1, 2, 3])('%i worker(s) match single-process model.fit within 1e-4 x max(1, |w|)', async (workers) => {
    const config = loadJobConfig(configPath);
    const expected = await fitReference(config, initDir, epochs);
    const actual = await savedWeights(outDir(workers));
    expect(actual.length).toBe(expected.length);
    let worst = 0;
    actual.forEach((a, i) => {
      const e = expected[i]!;
      expect(a.length).toBe(e.length);
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - e[j]!) / Math.max(1, Math.abs(e[j]!)));
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

describe('reproducibility with shuffling and dropout', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('gives bitwise-identical weights for 1 and 3 workers', async () => {
    const config = loadJobConfig(housingConfigPath);
    const configPath = writeJson(path.join(tmp.dir, 'job.json'), {
      ...config,
      model: [
        { type: 'dense', units: 16, activation: 'relu' },
        { type: 'dropout', rate: 0.3 },
        { type: 'dense', units: 1 },
      ],
      shuffle: true,
      epochs: 2,
      batchSize: 24,
      chunkSize: 5,
    });
    const bytes: Buffer[] = [];
    // 3 workers split a batch's 5 chunks unevenly; the describe above covers 2 workers too.
    for (const workers of [1, 3]) {
      const out = path.join(tmp.dir, `out-${workers}`);
      const run = await runCli(['train', configPath, '--workers', String(workers), '--out', out]);
      expect(run.code, run.stderr).toBe(0);
      bytes.push(weightBytes(out));
    }
    expect(bytes[1]!.equals(bytes[0]!)).toBe(true);
  });
});
