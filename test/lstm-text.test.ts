import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobConfig, loadModel, mulberry32, prepareData } from '@adamant/core';
import { jsonResult, runCli, tempDir, writeJson } from './support/cli.js';
import { savedWeights, weightBytes } from './support/reference.js';

/**
 * The synchronous-training promises on a small LSTM text classifier (the fused gradient path,
 * sparse embedding rows on the wire): N workers equal single-process tfjs training, bitwise
 * identical whatever N is; and the saved model evaluates and predicts from its own vocabulary.
 */
const words = { spam: ['win', 'free', 'prize', 'cash', 'click', 'offer'], ham: ['meeting', 'patch', 'build', 'review', 'lunch', 'kernel'], any: ['the', 'a', 'to', 'and', 'of', 'you', 'we', 'it'] };

function syntheticEmails(rows: number): string {
  const random = mulberry32(99);
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const label = random() < 0.4 ? 1 : 0;
    const length = 4 + Math.floor(random() * 14);
    const text = Array.from({ length }, () => (random() < 0.35 ? pick(label ? words.spam : words.ham) : pick(words.any))).join(' ');
    lines.push(JSON.stringify({ text, label }));
  }
  return `${lines.join('\n')}\n`;
}

describe('LSTM text classification', () => {
  const tmp = tempDir();
  let configPath: string;
  const initDir = path.join(tmp.dir, 'init');
  const outDir = (n: number) => path.join(tmp.dir, `out-${n}`);

  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
    writeFileSync(path.join(tmp.dir, 'emails.jsonl'), syntheticEmails(150));
    configPath = writeJson(path.join(tmp.dir, 'job.json'), {
      model: [
        { type: 'embedding', inputDim: 40, outputDim: 8, inputLength: 12 },
        { type: 'lstm', units: 10, returnSequences: true },
        { type: 'lstm', units: 6 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
      metrics: ['accuracy'],
      optimizer: { adam: { learningRate: 0.01 } },
      batchSize: 16,
      chunkSize: 5,
      epochs: 2,
      seed: 5,
      shuffle: false,
      validationSplit: 0.2,
      data: { type: 'text', path: 'emails.jsonl', tokenizer: { numWords: 40 }, maxLength: 12 },
    });
    const init = await runCli(['train', configPath, '--epochs', '0', '--out', initDir]);
    expect(init.code, init.stderr).toBe(0);
    // 3 workers split a batch's 4 chunks (of 5, 5, 5 and 1 rows) unevenly; 2 would add nothing to 1 and 3.
    for (const workers of [1, 3]) {
      const run = await runCli(['train', configPath, '--workers', String(workers), '--init', initDir, '--out', outDir(workers), '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(jsonResult(run)).toMatchObject({ workers, epochs: 2, samples: 240, workerBackends: [expect.stringMatching(/^wasm\+/)] });
    }
  });
  afterAll(() => tmp.cleanup());

  it('1 and 3 workers give bitwise-identical weights', () => {
    const one = weightBytes(outDir(1));
    expect(weightBytes(outDir(3)).equals(one)).toBe(true);
    expect(weightBytes(initDir).equals(one)).toBe(false);
  });

  it('matches single-process tfjs model.fit (autodiff, cpu) within 1e-4 x max(1, |w|)', async () => {
    const config = loadJobConfig(configPath);
    const data = prepareData(config);
    const model = await loadModel(initDir);
    const { learningRate, beta1, beta2, epsilon } = config.optimizer as { learningRate: number; beta1: number; beta2: number; epsilon: number };
    model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: 'binaryCrossentropy' });
    const x = tf.tensor2d(data.train.x, [data.train.rows, 12]);
    const y = tf.tensor2d(data.train.y, [data.train.rows, 1]);
    await model.fit(x, y, { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 });
    const expected = model.getWeights().map((w) => w.dataSync() as Float32Array);
    const actual = await savedWeights(outDir(3));
    let worst = 0;
    actual.forEach((a, i) => {
      a.forEach((v, j) => {
        worst = Math.max(worst, Math.abs(v - expected[i]![j]!) / Math.max(1, Math.abs(expected[i]![j]!)));
      });
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('lazy embedding Adam is reproducible too, and differs from exact Adam only in the embedding', async () => {
    const lazyConfig = writeJson(path.join(tmp.dir, 'lazy.json'), { ...loadJobConfig(configPath), optimizer: { adam: { learningRate: 0.01, lazyEmbedding: true } } });
    const lazy: Float32Array[][] = [];
    for (const workers of [1, 2]) {
      const out = path.join(tmp.dir, `lazy-${workers}`);
      const run = await runCli(['train', lazyConfig, '--workers', String(workers), '--init', initDir, '--out', out]);
      expect(run.code, run.stderr).toBe(0);
      lazy.push(await savedWeights(out));
    }
    expect(Buffer.from(lazy[1]![0]!.buffer).equals(Buffer.from(lazy[0]![0]!.buffer))).toBe(true);
    const exact = await savedWeights(outDir(1));
    // Exact Adam keeps moving a row in steps that do not touch it (its moments are non-zero); lazy Adam does not.
    expect(Buffer.from(lazy[0]![0]!.buffer).equals(Buffer.from(exact[0]!.buffer))).toBe(false);
  });

  it('--init keeps the saved model\'s vocabulary on new data (its embedding rows mean those words)', async () => {
    // Other texts, other word frequencies: a vocabulary fitted on them would number words differently.
    const other = syntheticEmails(150).replaceAll('kernel', 'zebra zebra zebra').replaceAll('the ', 'quux quux ');
    writeFileSync(path.join(tmp.dir, 'other.jsonl'), other);
    const otherConfig = writeJson(path.join(tmp.dir, 'other.json'), { ...loadJobConfig(configPath), data: { ...loadJobConfig(configPath).data, path: path.join(tmp.dir, 'other.jsonl') }, epochs: 1 });
    const words = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'adamant.json'), 'utf8')) as { tokenizer: { words: string[] } }).tokenizer.words;
    const continued = path.join(tmp.dir, 'continued');
    const fresh = path.join(tmp.dir, 'fresh');
    expect((await runCli(['train', otherConfig, '--workers', '1', '--init', initDir, '--out', continued])).code).toBe(0);
    // A vocabulary is fitted when the model is built: the fresh one needs no training.
    expect((await runCli(['train', otherConfig, '--epochs', '0', '--out', fresh])).code).toBe(0);
    expect(words(continued)).toEqual(words(initDir));
    expect(words(fresh)).not.toEqual(words(initDir));
  });

  it('evaluates and predicts with the saved vocabulary, and the two agree', async () => {
    const file = path.join(tmp.dir, 'emails.jsonl');
    // Recompute loss and accuracy from `predict`'s probabilities for the same texts (the two processes run side by side).
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { text: string; label: number });
    const [evaluation, prediction] = await Promise.all([runCli(['evaluate', outDir(3), file, '--json']), runCli(['predict', outDir(3), ...rows.map((r) => r.text), '--json'])]);
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const result = jsonResult(evaluation) as { samples: number; loss: number; metrics: { accuracy: number } };
    expect(result.samples).toBe(150);
    expect(prediction.code, prediction.stderr).toBe(0);
    const probabilities = (JSON.parse(prediction.stdout.trim().split('\n').at(-1)!) as { probability: number }[]).map((p) => p.probability);
    expect(probabilities).toHaveLength(150);
    const eps = 1e-7;
    const bce = rows.reduce((sum, r, i) => {
      const p = Math.min(Math.max(probabilities[i]!, eps), 1 - eps);
      return sum - (r.label * Math.log(p) + (1 - r.label) * Math.log(1 - p));
    }, 0) / rows.length;
    const accuracy = rows.filter((r, i) => (probabilities[i]! > 0.5 ? 1 : 0) === r.label).length / rows.length;
    expect(result.loss).toBeCloseTo(bce, 4);
    expect(result.metrics.accuracy).toBeCloseTo(accuracy, 6);
    // The saved model is an ordinary tfjs layers model.
    const loaded = await loadModel(outDir(3));
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(['Embedding', 'LSTM', 'LSTM', 'Dense']);
    loaded.dispose();
  });
});
