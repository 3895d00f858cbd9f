import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addMetricStatistics, emptyMetricStatistics, finalizeMetrics, loadJobConfig, loadModel, loadNewestCheckpoint, mulberry32, prepareData } from '@adamant/core';
import { backgroundClis, housingJob, newestCheckpointStep, runCli, tempDir, waitFor, writeJson } from './support/cli.js';
import { weightBytes } from './support/reference.js';

/**
 * Validation runs on the workers, as forward-only chunks of the validation rows summed in chunk
 * order (issue 10): its figures are byte-identical for any number of workers (1 and 3, which
 * split the 4 validation chunks unevenly; 2 in the runs that lose a worker), survive a worker
 * killed mid-validation and a stop mid-validation, and are the figures tfjs computes on the saved
 * model, to float rounding.
 */

/** Each epoch's validation figures, from the run's newest checkpoint: JSON text, so equal text means equal bits. */
function validationHistory(out: string): string {
  const { history } = loadNewestCheckpoint(out).checkpoint;
  return JSON.stringify(history.map(({ epoch, valLoss, valMetrics }) => ({ epoch, valLoss, valMetrics })));
}

/** The final validation figures the run reported (its adamant.json summary). */
function summary(out: string): { valLoss: number; valMetrics: Record<string, number> } {
  return (JSON.parse(readFileSync(path.join(out, 'adamant.json'), 'utf8')) as { summary: { valLoss: number; valMetrics: Record<string, number> } }).summary;
}

/** Loss and metrics of the saved model on the config's validation split, computed by tfjs `predict` (inference). */
async function tfjsValidation(configPath: string, out: string, loss: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor) {
  const config = loadJobConfig(configPath);
  const { validation } = prepareData(config);
  const model = await loadModel(out);
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const predicted = tf.tidy(() => (model.predict(tf.tensor(validation.x, [validation.rows, ...shape])) as tf.Tensor).dataSync() as Float32Array);
  model.dispose();
  const lossMean = tf.tidy(() => loss(tf.tensor2d(validation.y, [validation.rows, 1]), tf.tensor2d(predicted, [validation.rows, 1])).mean().dataSync()[0]!);
  const statistics = emptyMetricStatistics(config.metrics);
  addMetricStatistics(config.metrics, predicted, validation.y, validation.rows, 1, statistics);
  return { valLoss: lossMean, valMetrics: finalizeMetrics(config.metrics, statistics, validation.rows), rows: validation.rows };
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

const tmp = tempDir();
const out = (name: string) => path.join(tmp.dir, name);
const clis = backgroundClis();
afterEach(() => clis.killAll());
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  tf.enableProdMode();
  await tf.setBackend('cpu');
});

describe('validation of a dense model (autodiff on the workers)', () => {
  let configPath: string;

  beforeAll(async () => {
    // Half the rows held out: 4 validation chunks of 4 x 16 rows, so two workers share them.
    configPath = housingJob(tmp.dir, { epochs: 2, batchSize: 64, validationSplit: 0.5 }, 'housing.json');
    for (const workers of [1, 3]) {
      const run = await runCli(['train', configPath, '--workers', String(workers), '--out', out(`housing-${workers}`)]);
      expect(run.code, run.stderr).toBe(0);
    }
  });

  it('1 and 3 workers give byte-identical validation figures every epoch, and byte-identical weights', () => {
    const one = validationHistory(out('housing-1'));
    expect(JSON.parse(one)).toHaveLength(2);
    expect(validationHistory(out('housing-3'))).toBe(one);
    expect(weightBytes(out('housing-3')).equals(weightBytes(out('housing-1')))).toBe(true);
  });

  it('equals tfjs predict on the saved model to float rounding (the coordinator-side computation it replaces)', async () => {
    const reference = await tfjsValidation(configPath, out('housing-1'), (y, p) => tf.metrics.meanSquaredError(y, p));
    const reported = summary(out('housing-1'));
    expect(reference.rows).toBe(253);
    expect(relative(reported.valLoss, reference.valLoss)).toBeLessThanOrEqual(1e-5);
    expect(relative(reported.valMetrics.mae!, reference.valMetrics.mae!)).toBeLessThanOrEqual(1e-5);
  });

  it('a worker killed while it owes validation chunks loses nothing: its chunks go to the other, and the figures are the same', async () => {
    const run = clis.start(['train', configPath, '--workers', '2', '--log-level', 'debug', '--out', out('housing-killed')], { ADAMANT_SLOW_CHUNK_MS: '300' });
    // Each worker holds two validation chunks, each 300 ms away: the first one named dies before it answers.
    let victim = 0;
    await waitFor(() => {
      victim = Number(/validation chunks sent worker=\S+:(\d+) /.exec(run.output())?.[1] ?? 0);
      return victim > 0;
    }, 'the first validation chunks', 60_000);
    process.kill(victim, 'SIGKILL');
    const { code } = await run.exit;
    expect(code, run.output()).toBe(0);
    const validationStarted = run.output().indexOf('validation chunks sent');
    const left = /worker left worker=\S+:(\d+) .*reassigned=(\d+)/.exec(run.output().slice(validationStarted));
    expect(Number(left?.[1])).toBe(victim);
    expect(Number(left?.[2])).toBeGreaterThanOrEqual(1);
    expect(validationHistory(out('housing-killed'))).toBe(validationHistory(out('housing-1')));
    expect(weightBytes(out('housing-killed')).equals(weightBytes(out('housing-1')))).toBe(true);
  });

  it('a stop during validation checkpoints the epoch\'s end; the resume validates the same weights again, to the same bytes', async () => {
    const run = clis.start(['train', configPath, '--workers', '1', '--log-level', 'debug', '--out', out('housing-stopped')], { ADAMANT_SLOW_CHUNK_MS: '300' });
    await waitFor(() => /validation chunks sent/.test(run.output()), 'validation to start', 60_000);
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect(code, run.output()).toBe(130);
    // Stopped after the epoch's 4 steps, before its report: the checkpoint holds no history yet.
    expect(newestCheckpointStep(out('housing-stopped'))).toBe(4);
    expect(loadNewestCheckpoint(out('housing-stopped')).checkpoint.history).toEqual([]);
    const resumed = await runCli(['train', '--resume', out('housing-stopped'), '--workers', '2']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(validationHistory(out('housing-stopped'))).toBe(validationHistory(out('housing-1')));
    expect(weightBytes(out('housing-stopped')).equals(weightBytes(out('housing-1')))).toBe(true);
  });
});

describe('validation of a text model with dropout (the fused path on the workers)', () => {
  let configPath: string;

  beforeAll(async () => {
    const random = mulberry32(11);
    const words = ['win', 'free', 'cash', 'meeting', 'patch', 'review', 'the', 'a', 'to', 'and', 'of', 'you'];
    const lines = Array.from({ length: 200 }, () => {
      const label = random() < 0.4 ? 1 : 0;
      const text = Array.from({ length: 4 + Math.floor(random() * 10) }, () => words[(label ? 0 : 3) + Math.floor(random() * (random() < 0.4 ? 3 : 9))]).join(' ');
      return JSON.stringify({ text, label });
    });
    writeFileSync(path.join(tmp.dir, 'texts.jsonl'), `${lines.join('\n')}\n`);
    configPath = writeJson(path.join(tmp.dir, 'text.json'), {
      model: [
        { type: 'embedding', inputDim: 20, outputDim: 6, inputLength: 10 },
        { type: 'lstm', units: 8 },
        { type: 'dropout', rate: 0.4 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
      metrics: ['accuracy', 'auc'],
      optimizer: { adam: { learningRate: 0.01 } },
      batchSize: 16,
      chunkSize: 4,
      epochs: 2,
      seed: 3,
      validationSplit: 0.3,
      data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: 20 }, maxLength: 10 },
    });
    for (const workers of [1, 3]) {
      const run = await runCli(['train', configPath, '--workers', String(workers), '--log-level', 'debug', '--out', out(`text-${workers}`)]);
      expect(run.code, run.stderr).toBe(0);
      // 60 validation rows in chunks of 16: the workers shared 4 forward-only chunks.
      expect(run.stderr).toMatch(/validation done epoch=2 chunks=4 /);
    }
  });

  it('1 and 3 workers give byte-identical validation figures every epoch, and byte-identical weights', () => {
    const one = validationHistory(out('text-1'));
    expect(JSON.parse(one)).toHaveLength(2);
    expect(validationHistory(out('text-3'))).toBe(one);
    expect(weightBytes(out('text-3')).equals(weightBytes(out('text-1')))).toBe(true);
  });

  it('equals tfjs predict (inference: no dropout) on the saved model to float rounding', async () => {
    const reference = await tfjsValidation(configPath, out('text-1'), (y, p) => tf.metrics.binaryCrossentropy(y, p));
    const reported = summary(out('text-1'));
    expect(reference.rows).toBe(60);
    expect(relative(reported.valLoss, reference.valLoss)).toBeLessThanOrEqual(1e-5);
    expect(reported.valMetrics.accuracy).toBe(reference.valMetrics.accuracy);
    expect(relative(reported.valMetrics.auc!, reference.valMetrics.auc!)).toBeLessThanOrEqual(1e-5);
  });
});
