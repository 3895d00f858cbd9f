import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  type CoordinatorMessage,
  createCodec,
  floatBytes,
  type JobConfig,
  loadJobConfig,
  loadModel,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  prepareData,
  readFloats,
  type WorkerJob,
  type WorkerMessage,
} from '@adamant/core';
import { jsonResult, runCli, tempDir, writeJson } from './support/cli.js';
import { writeNumericTable, writeTopicTexts } from './support/modelData.js';
import { savedWeights, weightBytes } from './support/reference.js';

/**
 * Issue 11, items 4 and 6: class weights, a sample-weight column and a validation file, end to
 * end through real coordinator and worker processes. Weighted runs are bitwise the same on any
 * number of workers and equal tfjs `model.fit({classWeight})`; weights that change nothing
 * change no bit; a validation file holding the rows validationSplit would hold gives the same
 * figures.
 */

const tmp = tempDir('adamant-weights-');
afterAll(() => tmp.cleanup());
const file = (name: string) => path.join(tmp.dir, name);

const ROWS = 240;
/** Binary target `high` (band is "high"), 1 in about 3 rows: unbalanced, so class weights matter. */
const CLASS_WEIGHT = { '0': 0.5, '1': 3 };

/**
 * The numeric table of modelData.ts with three more columns: `high` (0/1), `cw` (CLASS_WEIGHT of
 * the row's `high`), `one` (always 1).
 */
function writeTable(): string {
  const source = writeNumericTable(file('source.csv'), ROWS);
  const [header, ...rows] = readFileSync(source, 'utf8').trim().split('\n');
  const band = header!.split(',').indexOf('band');
  const lines = rows.map((row) => {
    const high = row.split(',')[band] === 'high' ? '1' : '0';
    return `${row},${high},${CLASS_WEIGHT[high]},1`;
  });
  writeFileSync(file('table.csv'), `${header},high,cw,one\n${lines.join('\n')}\n`);
  return file('table.csv');
}

const features = ['x1', 'x2', 'x3', 'x4'];

/** A small binary or 3-class job on the table; `overrides` replace top-level fields, `data` fields of the data block. */
function job(name: string, kind: 'binary' | 'classes', overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): string {
  const binary = kind === 'binary';
  return writeJson(file(`${name}.json`), {
    model: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: binary ? 1 : 3, activation: binary ? 'sigmoid' : 'softmax' },
    ],
    loss: binary ? 'binaryCrossentropy' : 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    optimizer: { adam: { learningRate: 0.01 } },
    batchSize: 32,
    chunkSize: 8,
    epochs: 2,
    seed: 5,
    shuffle: false,
    validationSplit: 0.25,
    data: { path: file('table.csv'), features, target: binary ? 'high' : 'band', ...data },
    ...overrides,
  });
}

async function train(config: string, out: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const run = await runCli(['train', config, '--out', file(out), '--json', ...extra], { timeoutMs: 120_000 });
  expect(run.code, run.stderr).toBe(0);
  return jsonResult(run);
}

/** Single-process tfjs `model.fit` with `classWeight` (class index → weight), the same rows, batches and initial weights. */
async function fitWithClassWeight(configFile: string, initDir: string, classWeight: Record<number, number>): Promise<Float32Array[]> {
  const config: JobConfig = loadJobConfig(configFile);
  const { train } = prepareData({ ...config, classWeight: undefined });
  const model = await loadModel(initDir);
  const { learningRate, beta1, beta2, epsilon } = config.optimizer as { learningRate: number; beta1: number; beta2: number; epsilon: number };
  model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: config.loss });
  const x = tf.tensor2d(train.x, [train.rows, train.featureCount]);
  const y = tf.tensor2d(train.y, [train.rows, 1]);
  await model.fit(x, y, { batchSize: config.batchSize, epochs: config.epochs, shuffle: false, verbose: 0, classWeight });
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return weights;
}

/** The largest |a - e| / max(1, |e|) over every weight. */
function worstDifference(actual: Float32Array[], expected: Float32Array[]): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  actual.forEach((a, i) => {
    for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - expected[i]![j]!) / Math.max(1, Math.abs(expected[i]![j]!)));
  });
  return worst;
}

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  writeTable();
  // Each saves the seed's weights in one process, without workers: the two run side by side.
  const inits = await Promise.all((['binary', 'classes'] as const).map((kind) => runCli(['train', job(`init-${kind}`, kind), '--epochs', '0', '--out', file(`init-${kind}`)])));
  for (const init of inits) expect(init.code, init.stderr).toBe(0);
}, 120_000);

describe('classWeight', () => {
  const weighted = () => job('weighted', 'binary', { classWeight: CLASS_WEIGHT });

  it('1 and 3 workers give byte-identical weights', async () => {
    // 3 workers split a batch's 4 chunks unevenly ([0] [1] [2, 3]); the other tests add runs on 2.
    const results = [];
    for (const workers of [1, 3]) results.push(await train(weighted(), `cw-${workers}`, ['--workers', String(workers), '--init', file('init-binary')]));
    const one = weightBytes(file('cw-1'));
    expect(weightBytes(file('cw-3')).equals(one)).toBe(true);
    expect(results.map((r) => r.loss)).toEqual([results[0]!.loss, results[0]!.loss]);
    // The weights did something: an unweighted run from the same start ends elsewhere.
    await train(job('plain', 'binary'), 'plain', ['--workers', '2', '--init', file('init-binary')]);
    expect(weightBytes(file('plain')).equals(one)).toBe(false);
  }, 240_000);

  it('a binary sigmoid job equals tfjs model.fit({classWeight}) to 1e-4', async () => {
    const expected = await fitWithClassWeight(weighted(), file('init-binary'), { 0: 0.5, 1: 3 });
    expect(worstDifference(await savedWeights(file('cw-3')), expected)).toBeLessThanOrEqual(1e-4);
    // The comparison can fail: the unweighted run is farther from it than the tolerance.
    expect(worstDifference(await savedWeights(file('plain')), expected)).toBeGreaterThan(1e-3);
  }, 60_000);

  it('"balanced" on a softmax job with sparse labels equals model.fit with scikit-learn\'s weights to 1e-4', async () => {
    const config = job('balanced', 'classes', { classWeight: 'balanced' });
    await train(config, 'balanced', ['--workers', '2', '--init', file('init-classes')]);
    // scikit-learn's n_samples / (n_classes × count), counted here from the training rows.
    const { train: rows, labels } = prepareData(loadJobConfig(job('balanced-plain', 'classes')));
    const counts = labels!.map((_, k) => rows.y.filter((y) => y === k).length);
    const classWeight = Object.fromEntries(counts.map((count, k) => [k, rows.rows / (labels!.length * count)]));
    expect(new Set(Object.values(classWeight)).size).toBe(3);
    const expected = await fitWithClassWeight(config, file('init-classes'), classWeight);
    expect(worstDifference(await savedWeights(file('balanced')), expected)).toBeLessThanOrEqual(1e-4);
  }, 120_000);
});

describe('weights on the fused path (a text job)', () => {
  it('a JSONL weight field and "balanced" class weights: 1 and 3 workers give byte-identical weights', async () => {
    const texts = writeTopicTexts(file('topics.jsonl'), 150);
    const lines = readFileSync(texts, 'utf8').trim().split('\n');
    // Every fifth text counts double, every seventh not at all.
    const weighted = lines.map((line, i) => JSON.stringify({ ...JSON.parse(line), w: i % 7 === 0 ? 0 : i % 5 === 0 ? 2 : 1 }));
    writeFileSync(file('topics-w.jsonl'), `${weighted.join('\n')}\n`);
    const textJob = (name: string, extra: Record<string, unknown>, data: Record<string, unknown>) =>
      writeJson(file(`${name}.json`), {
        model: [
          { type: 'embedding', inputDim: 60, outputDim: 8 },
          { type: 'globalAveragePooling1d' },
          { type: 'dense', units: 1, activation: 'sigmoid' },
        ],
        loss: 'binaryCrossentropy',
        metrics: ['accuracy'],
        optimizer: { adam: { learningRate: 0.02 } },
        batchSize: 32,
        chunkSize: 8,
        epochs: 2,
        seed: 3,
        validationSplit: 0.2,
        data: { type: 'text', path: file('topics-w.jsonl'), textField: 'text', labelField: 'mood', maxLength: 8, tokenizer: { numWords: 60 }, ...data },
        ...extra,
      });
    const config = textJob('text-weighted', { classWeight: 'balanced' }, { sampleWeight: 'w' });
    for (const workers of [1, 3]) await train(config, `text-${workers}`, ['--workers', String(workers)]);
    expect(weightBytes(file('text-3')).equals(weightBytes(file('text-1')))).toBe(true);
    await train(textJob('text-plain', {}, {}), 'text-plain', ['--workers', '1']);
    expect(weightBytes(file('text-plain')).equals(weightBytes(file('text-1')))).toBe(false);
  }, 180_000);
});

describe('data.sampleWeight', () => {
  it('a column equal to classWeight[y] gives the bytes of the classWeight map', async () => {
    await train(job('column', 'binary', {}, { sampleWeight: 'cw' }), 'column', ['--workers', '2', '--init', file('init-binary')]);
    expect(weightBytes(file('column')).equals(weightBytes(file('cw-1')))).toBe(true);
  }, 120_000);

  it('a column of ones gives the bytes of a run without weights', async () => {
    const result = await train(job('ones', 'binary', {}, { sampleWeight: 'one' }), 'ones', ['--workers', '1', '--init', file('init-binary')]);
    expect(weightBytes(file('ones')).equals(weightBytes(file('plain')))).toBe(true);
    expect(result.valLoss).toBeGreaterThan(0);
  }, 120_000);

  it('adamant evaluate weighs the loss with the file\'s weight column (not the metrics)', async () => {
    const lines = readFileSync(file('table.csv'), 'utf8').trim().split('\n');
    const withWeights = (weight: (i: number) => string) => {
      const target = file(`eval-${weight(1)}.csv`);
      writeFileSync(target, [lines[0], ...lines.slice(1).map((line, i) => line.replace(/,1$/, `,${weight(i)}`))].join('\n'));
      return target;
    };
    const evaluate = async (data: string) => {
      const run = await runCli(['evaluate', file('ones'), data, '--json']);
      expect(run.code, run.stderr).toBe(0);
      return jsonResult(run) as { loss: number; metrics: Record<string, number> };
    };
    // Three single-process evaluations, side by side.
    const [ones, twos, mixed] = await Promise.all([evaluate(withWeights(() => '1')), evaluate(withWeights(() => '2')), evaluate(withWeights((i) => (i % 2 === 0 ? '0' : '1.5')))]);
    // Doubling every weight doubles every term: exactly, in binary floating point.
    expect(twos.loss).toBe(2 * ones.loss);
    expect(twos.metrics).toEqual(ones.metrics);
    expect(mixed.loss).not.toBeCloseTo(ones.loss, 4);
    expect(mixed.metrics).toEqual(ones.metrics);
  }, 60_000);
});

describe('validationData', () => {
  it('a file holding the rows validationSplit holds out gives the same validation figures and weights', async () => {
    const lines = readFileSync(file('table.csv'), 'utf8').trim().split('\n');
    const cut = 1 + Math.floor(ROWS * 0.75);
    writeFileSync(file('train-part.csv'), `${lines.slice(0, cut).join('\n')}\n`);
    writeFileSync(file('valid-part.csv'), `${[lines[0], ...lines.slice(cut)].join('\n')}\n`);
    const split = await train(job('split', 'classes'), 'split', ['--workers', '2', '--init', file('init-classes')]);
    // A relative path: resolved against the config file's folder.
    const separate = job('separate', 'classes', { validationSplit: 0, validationData: { path: 'valid-part.csv' } }, { path: file('train-part.csv') });
    const held = await train(separate, 'separate', ['--workers', '1', '--init', file('init-classes')]);
    expect(held.samples).toBe(split.samples);
    expect(held.valLoss).toBe(split.valLoss);
    expect(held.valMetrics).toEqual(split.valMetrics);
    // Every epoch's figures, not only the last.
    expect(figures(held.history)).toEqual(figures(split.history));
    expect(figures(held.history)).toHaveLength(2);
    expect(weightBytes(file('separate')).equals(weightBytes(file('split')))).toBe(true);
  }, 120_000);
});

/** The history's rows without what measures time, which two runs never share. */
function figures(history: unknown): Record<string, unknown>[] {
  return (history as Record<string, unknown>[]).map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => !/second|time|rate/i.test(key) || key === 'learningRate')));
}

describe('a worker and the w of a step', () => {
  // One dense unit on two inputs: kernel [1, 2] and bias 3, rows [1, 0] and [0, 1], targets 4 and 4.
  const job: WorkerJob = {
    layers: [{ type: 'dense', units: 1, activation: 'linear', useBias: true, inputShape: [2] }],
    loss: 'meanSquaredError',
    metrics: [],
    backend: 'cpu',
    seed: 0,
    inputShape: [2],
    paramCount: 3,
  };
  const codec = createCodec();
  const step = (w: number[]): CoordinatorMessage => ({
    type: 'step',
    step: 0,
    weights: floatBytes(Float32Array.of(1, 2, 3)),
    chunks: [{ index: 0, samples: 2, seed: 1, x: floatBytes(Float32Array.of(1, 0, 0, 1)), y: floatBytes(Float32Array.of(4, 4)), w: floatBytes(Float32Array.from(w)) }],
  });

  /** A fake coordinator on a raw socket: welcomes one worker process, sends `first`, and returns what the worker answered. */
  async function answerTo(first: CoordinatorMessage): Promise<{ reply: WorkerMessage; exit: { code: number | null; stderr: string } }> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const replies: WorkerMessage[] = [];
    server.on('connection', (socket) => {
      socket.send(codec.encode({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(NONCE_BYTES) }));
      socket.on('message', (data: Buffer) => {
        const message = codec.decodeWorkerMessage(data, 'worker');
        if (message.type === 'hello') socket.send(codec.encode({ type: 'welcome', protocol: PROTOCOL_VERSION, workerId: 1, job, heartbeatMs: 60_000, jobId: 'j' }));
        else if (message.type === 'ready') socket.send(codec.encode(first));
        else {
          replies.push(message);
          socket.send(codec.encode({ type: 'done' }));
        }
      });
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const exit = await runCli(['worker', '--connect', url, '--reconnect-timeout', '0'], { env: { ADAMANT_TOKEN: 'any: the fake checks no proof' }, timeoutMs: 30_000 });
    await new Promise((resolve) => server.close(resolve));
    expect(replies.length, exit.stderr).toBeGreaterThan(0);
    return { reply: replies[0]!, exit };
  }

  it('weighs each sample\'s loss and gradient by it', async () => {
    const { reply } = await answerTo(step([1, 3]));
    if (reply.type !== 'chunk') throw new Error(`expected a chunk, got ${reply.type}`);
    // Predictions 4 and 5: squared errors 0 and 1, the second weighing 3; d/d(kernel, bias) is 2 × 3 × 1 × [0, 1, 1].
    expect(reply.lossSum).toBe(3);
    expect(Array.from(readFloats(reply.grads!, 3, 'grads', 'worker'))).toEqual([0, 6, 6]);
  });

  it('refuses one of the wrong length, naming the coordinator', async () => {
    const { reply } = await answerTo(step([1, 3, 1]));
    expect(reply).toMatchObject({ type: 'failed', code: 'E_PROTOCOL' });
    expect((reply as { message: string }).message).toMatch(/^coordinator .*: chunk 0 sample weights has 3 values, expected 2$/);
  });
});

describe('bad weights and class weights', () => {
  /** One line on stderr naming the culprit, and a failed exit (1, as every data and config error). */
  function expectOneLineError(result: { code: number | null; stderr: string }, ...mentions: (string | RegExp)[]): void {
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    for (const m of mentions) expect(lines[0]).toMatch(m);
  }

  it('a negative weight names the file, line and column', async () => {
    const lines = readFileSync(file('table.csv'), 'utf8').trim().split('\n');
    lines[6] = lines[6]!.replace(/,1$/, ',-2');
    writeFileSync(file('bad-weight.csv'), lines.join('\n'));
    const config = job('bad-weight', 'binary', {}, { path: file('bad-weight.csv'), sampleWeight: 'one' });
    expectOneLineError(await runCli(['train', config]), `${file('bad-weight.csv')}:7`, /column "one" \(data\.sampleWeight\): "-2" is negative/, /E_DATA/);
  });

  it('a classWeight key that is not a label lists the labels', async () => {
    const config = job('bad-key', 'classes', { classWeight: { high: 2, medium: 1 } });
    expectOneLineError(await runCli(['train', config]), /classWeight: "medium" is not a label of/, /its labels are \[high, low, mid\]/, /E_CONFIG/);
  });
});
