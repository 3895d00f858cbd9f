import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobConfig, loadModel, prepareData } from '@adamant/core';
import { jsonResult, runCli, tempDir, writeJson, type CliResult } from './support/cli.js';
import { columnOf, TABLE_FEATURES, writeNumericTable, writeTopicTexts } from './support/modelData.js';
import { binaryMetrics, fitFromInit, largestChange, worstRelativeDifference } from './support/modelReference.js';
import { savedWeights, weightBytes } from './support/reference.js';

/**
 * Issue 10's proof for every new layer, head and loss, on real CLI processes: 1 and 3 workers
 * (3 splits a batch's 4 chunks unevenly) give byte-identical weights and epoch results, and the weights
 * equal single-process tfjs `model.fit` from the same initial weights and batches within
 * 1e-4 x max(1, |w|). Dropout masks come from each chunk's seed, which `fit` cannot reproduce:
 * that job compares the fused path with forced autodiff (ADAMANT_GRADIENTS=autodiff), which draws
 * the same masks, within 1e-5. Along the way: string labels map to the sorted label set, and the
 * binary head's auc, precision and recall equal their values recomputed from the saved model.
 */

type Layer = Record<string, unknown> & { type: string };

interface ModelCase {
  name: string;
  /** The generated data and its target: text topics (3 classes), text mood (0/1), the table's band (3 classes) or value. */
  data: 'topic' | 'mood' | 'band' | 'value';
  model: Layer[];
  loss: string;
  metrics: string[];
  /** Worker counts whose weights must be byte-identical; the first is compared with the reference. */
  workers: number[];
  /** model.fit, or the same job on forced autodiff (for dropout). */
  reference: 'fit' | 'autodiff';
  validationSplit?: number;
  shuffle?: boolean;
  /** Adam's learning rate; 0.01 when left out. */
  learningRate?: number;
  /** 2 when left out. */
  epochs?: number;
}

const embedding: Layer = { type: 'embedding', inputDim: 50, outputDim: 6 };
const softmax3: Layer = { type: 'dense', units: 3, activation: 'softmax' };
const sigmoid1: Layer = { type: 'dense', units: 1, activation: 'sigmoid' };
const bidirectional = (type: 'lstm' | 'gru', mergeMode: string, returnSequences: boolean): Layer => ({
  type: 'bidirectional',
  layer: { type, units: 4, returnSequences },
  mergeMode,
});
// tanh, not relu, under the regression losses: their gradients are ±1 per sample (huber's beyond
// |e| = 1), so a relu unit's bias gradient can cancel exactly, and Adam's first step turns the
// rounding left of that zero (which depends on the order of the sum) into a step of up to lr.
const regressionMlp: Layer[] = [
  { type: 'dense', units: 8, activation: 'tanh' },
  { type: 'dense', units: 1 },
];

const cases: ModelCase[] = [
  {
    name: 'stacked gru, softmax head, sparseCategoricalCrossentropy',
    data: 'topic',
    model: [embedding, { type: 'gru', units: 6, returnSequences: true }, { type: 'gru', units: 5 }, softmax3],
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    workers: [1, 3],
    reference: 'fit',
  },
  {
    name: 'bidirectional lstm (concat), gru (mul) and lstm (sum), max pooling, categoricalCrossentropy',
    data: 'topic',
    model: [
      embedding,
      bidirectional('lstm', 'concat', true),
      bidirectional('gru', 'mul', true),
      bidirectional('lstm', 'sum', true),
      { type: 'globalMaxPooling1d' },
      softmax3,
    ],
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
    workers: [1, 3],
    reference: 'fit',
  },
  {
    name: 'bidirectional gru (ave), average pooling, a Dense(relu) stack, sigmoid head with auc/precision/recall',
    data: 'mood',
    model: [
      embedding,
      bidirectional('gru', 'ave', true),
      { type: 'globalAveragePooling1d' },
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 4, activation: 'relu' },
      sigmoid1,
    ],
    loss: 'binaryCrossentropy',
    metrics: ['auc', 'precision', 'recall', 'accuracy'],
    workers: [1, 3],
    reference: 'fit',
    validationSplit: 0.2,
    // Long enough that held-out texts score on both sides of 0.5 (precision and recall above 0).
    learningRate: 0.02,
    epochs: 5,
  },
  {
    name: 'dropout after the embedding, between recurrent layers and before the head (fused against autodiff)',
    data: 'topic',
    model: [
      embedding,
      { type: 'dropout', rate: 0.2 },
      bidirectional('gru', 'concat', true),
      { type: 'dropout', rate: 0.3 },
      { type: 'lstm', units: 5 },
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dropout', rate: 0.25 },
      softmax3,
    ],
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    workers: [1, 3],
    reference: 'autodiff',
    shuffle: true,
  },
  {
    name: 'table: softmax MLP on string labels',
    data: 'band',
    model: [{ type: 'dense', units: 8, activation: 'relu' }, softmax3],
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    workers: [1, 3],
    reference: 'fit',
  },
  { name: 'table: meanAbsoluteError regression', data: 'value', model: regressionMlp, loss: 'meanAbsoluteError', metrics: ['mae'], workers: [1, 3], reference: 'fit' },
  { name: 'table: huber regression', data: 'value', model: regressionMlp, loss: 'huber', metrics: ['mae'], workers: [1, 3], reference: 'fit' },
];

describe('every new layer, head and loss across worker counts', () => {
  const tmp = tempDir('adamant-models-');
  let textsFile: string;
  let tableFile: string;

  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
    // 250 texts (200 rows of table) in batches of 32 and chunks of 8: each epoch ends in a short batch.
    textsFile = writeTopicTexts(path.join(tmp.dir, 'texts.jsonl'), 250);
    tableFile = writeNumericTable(path.join(tmp.dir, 'table.csv'), 200);
  });
  afterAll(() => tmp.cleanup());

  function jobFile(c: ModelCase, file: string, model = c.model): string {
    const data =
      c.data === 'topic' || c.data === 'mood'
        ? { type: 'text', path: textsFile, labelField: c.data, tokenizer: { numWords: 50 }, maxLength: 8 }
        : { type: 'table', path: tableFile, features: TABLE_FEATURES, target: c.data };
    return writeJson(file, {
      model,
      loss: c.loss,
      metrics: c.metrics,
      optimizer: { adam: { learningRate: c.learningRate ?? 0.01 } },
      batchSize: 32,
      chunkSize: 8,
      epochs: c.epochs ?? 2,
      seed: 3,
      shuffle: c.shuffle ?? false,
      validationSplit: c.validationSplit ?? 0,
      data,
    });
  }

  const train = async (args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => {
    const run = await runCli(['train', ...args, '--json'], { env, timeoutMs: 180_000 });
    expect(run.code, `adamant train ${args.join(' ')}${env ? ` (${JSON.stringify(env)})` : ''} failed:\n${run.stderr}`).toBe(0);
    return run;
  };

  it.each(cases)('$name', async (c) => {
    const dir = path.join(tmp.dir, c.name.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(dir);
    const configPath = jobFile(c, path.join(dir, 'job.json'));
    const initDir = path.join(dir, 'init');
    const outDir = (n: number) => path.join(dir, `out-${n}`);
    const autodiffDir = path.join(dir, 'autodiff');
    const noDropoutDir = path.join(dir, 'no-dropout');
    // Every run starts from the seed's weights, which the --epochs 0 run saves: they run side by side.
    const init = train([configPath, '--epochs', '0', '--out', initDir]);
    const runs = c.workers.map((workers) => train([configPath, '--workers', String(workers), '--out', outDir(workers)]));
    const extra: Promise<CliResult>[] = [];
    if (c.reference === 'autodiff') {
      extra.push(train([configPath, '--workers', '1', '--out', autodiffDir], { ADAMANT_GRADIENTS: 'autodiff' }));
      const noDropout = c.model.map((layer) => (layer.type === 'dropout' ? { ...layer, rate: 0 } : layer));
      extra.push(train([jobFile(c, path.join(dir, 'no-dropout.json'), noDropout), '--workers', '1', '--out', noDropoutDir]));
    }
    await init;
    const initial = await savedWeights(initDir);
    // model.fit runs here, in this process, while the workers train.
    const expected = c.reference === 'fit' ? await fitFromInit(loadJobConfig(configPath), initDir, c.epochs ?? 2) : undefined;
    const results = await Promise.all(runs);
    const [autodiffRun] = await Promise.all(extra);

    const first = c.workers[0]!;
    const bytes = weightBytes(outDir(first));
    for (const workers of c.workers.slice(1)) expect(weightBytes(outDir(workers)).equals(bytes), `${workers} workers against ${first}`).toBe(true);
    // Text models train on the fused path: nothing may say they fell back to autodiff.
    for (const run of results) expect(run.stderr).not.toMatch(/autodiff/);
    // The epoch's loss and metrics are sums in chunk order too: equal to the bit.
    const reported = results.map((run) => {
      const { loss, metrics, valLoss, valMetrics, samples, workers } = jsonResult(run);
      return { summary: { loss, metrics, valLoss, valMetrics, samples }, workers };
    });
    expect(reported.map((r) => r.workers)).toEqual(c.workers);
    for (const r of reported.slice(1)) expect(r.summary).toEqual(reported[0]!.summary);

    const actual = await savedWeights(outDir(first));
    // Training moved the weights, so the equalities are not between untouched copies.
    expect(largestChange(actual, initial)).toBeGreaterThan(1e-3);
    if (expected) {
      expect(worstRelativeDifference(actual, expected)).toBeLessThanOrEqual(1e-4);
    } else {
      // A different backend shows that the other path ran (autodiff needs cpu's embedding gradient).
      expect(jsonResult(autodiffRun!).workerBackends).not.toEqual(jsonResult(results[0]!).workerBackends);
      expect(worstRelativeDifference(actual, await savedWeights(autodiffDir))).toBeLessThanOrEqual(1e-5);
      // And dropout did drop: without it the weights end elsewhere.
      expect(largestChange(actual, await savedWeights(noDropoutDir))).toBeGreaterThan(1e-3);
    }

    if (c.data === 'topic' || c.data === 'band') {
      // String labels: the label set is the training split's, sorted, and each row's target is its index there.
      const names = columnOf(c.data === 'topic' ? textsFile : tableFile, c.data);
      const labels = [...new Set(names)].sort();
      expect(labels).toEqual(c.data === 'topic' ? ['food', 'sports', 'tech'] : ['high', 'low', 'mid']);
      const saved = JSON.parse(readFileSync(path.join(outDir(first), 'adamant.json'), 'utf8')) as { labels: string[] | null };
      expect(saved.labels).toEqual(labels);
      expect(Array.from(prepareData(loadJobConfig(configPath)).train.y)).toEqual(names.map((name) => labels.indexOf(name)));
    }
    if (c.metrics.includes('auc')) {
      // The validation metrics, recomputed from the saved model's predictions on the held-out rows.
      const data = prepareData(loadJobConfig(configPath));
      const model = await loadModel(outDir(first));
      const probabilities = tf.tidy(() => (model.predict(tf.tensor2d(data.validation.x, [data.validation.rows, data.validation.featureCount])) as tf.Tensor).dataSync());
      model.dispose();
      const valMetrics = reported[0]!.summary.valMetrics as Record<string, number>;
      const recomputed = binaryMetrics(probabilities, data.validation.y);
      // The model has learnt something, so the comparison is not between degenerate values (auc 0.5, precision 0).
      expect(recomputed.auc).toBeGreaterThan(0.7);
      expect(Math.min(recomputed.precision, recomputed.recall)).toBeGreaterThan(0.3);
      for (const metric of ['auc', 'precision', 'recall', 'accuracy'] as const) expect(valMetrics[metric], metric).toBeCloseTo(recomputed[metric], 6);
    }
  });
});
