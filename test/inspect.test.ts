import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../packages/cli/src/inspection.js';
import { checkpointsOf, housingJob, jsonResult, runCli, tempDir, writeJson } from './support/cli.js';
import { writeTopicTexts } from './support/modelData.js';

/** Issue 12: `adamant inspect` says what a saved model directory or a checkpoint holds. */
describe('adamant inspect', () => {
  const tmp = tempDir();
  const run = path.join(tmp.dir, 'housing');
  let summary: Record<string, unknown>;

  beforeAll(async () => {
    const trained = await runCli(['train', housingJob(tmp.dir, { epochs: 2 }), '--workers', '1', '--json', '--out', run]);
    expect(trained.code, trained.stderr).toBe(0);
    summary = jsonResult(trained);
  });
  afterAll(() => tmp.cleanup());

  it('lists a saved model: layers with shapes and parameters, data, training, config and files', async () => {
    // Each inspection is one short process: they run side by side.
    const [text, json] = await Promise.all([runCli(['inspect', run]), runCli(['inspect', run, '--json'])]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Saved model \S+housing\n/);
    expect(text.stdout).toMatch(/^dense_1 \(Dense\) +\(None, 64\) +832$/m);
    expect(text.stdout).toMatch(/^dense_3 \(Dense\) +\(None, 1\) +33$/m);
    expect(text.stdout).toContain('Total parameters: 2,945');
    expect(text.stdout).toMatch(/^Data: +table; 12 features \(crim, zn, .*lstat\), standardised; no class labels$/m);
    expect(text.stdout).toMatch(/^Config: +adam \(learning rate 0\.001\), loss meanSquaredError, metrics mae, batch size 32, chunk size 8, 2 epoch\(s\), seed 42$/m);
    expect(text.stdout).toMatch(/^ {2}weights\.bin +11\.5 KiB$/m);

    const report = JSON.parse(json.stdout) as Inspection;
    expect(report).toMatchObject({ kind: 'model', params: 2945, training: { epochs: 2, step: 26, last: { loss: summary.loss, valLoss: summary.valLoss } } });
    expect(report.layers.map((l) => l.outputShape)).toEqual(['(None, 64)', '(None, 32)', '(None, 1)']);
    expect(report.files).toContainEqual({ name: 'weights.bin', bytes: statSync(path.join(run, 'weights.bin')).size });
  });

  it('reads a checkpoint: from its folder (the newest) or one file, with its step, epochs and history', async () => {
    const [first, newest] = checkpointsOf(run);
    const [folderRun, one] = await Promise.all([runCli(['inspect', path.join(run, 'checkpoints'), '--json']), runCli(['inspect', first!])]);
    const folder = JSON.parse(folderRun.stdout) as Inspection;
    expect(folder).toMatchObject({ kind: 'checkpoint', path: newest, params: 2945, training: { step: 26, epochsDone: 2, batchesDone: 0, historyLength: 2 } });
    expect(folder.training.last?.loss).toBe(summary.loss);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^Training: +step 13: 1 of 2 epoch\(s\) done; 1 epoch\(s\) in the history$/m);
    expect(one.stdout).toMatch(/^Last epoch: loss \d+\.\d{4} {2}mae \d+\.\d{4} {2}val_loss \d+\.\d{4} {2}val_mae \d+\.\d{4}$/m);
  });

  it('shows a text model\'s tokenizer and labels', async () => {
    const texts = writeTopicTexts(path.join(tmp.dir, 'texts.jsonl'), 60);
    const config = writeJson(path.join(tmp.dir, 'text.json'), {
      model: [{ type: 'embedding', inputDim: 50, outputDim: 4 }, { type: 'globalAveragePooling1d' }, { type: 'dense', units: 3, activation: 'softmax' }],
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
      batchSize: 16,
      epochs: 1,
      data: { type: 'text', path: texts, labelField: 'topic', tokenizer: { numWords: 50 }, maxLength: 8 },
    });
    const out = path.join(tmp.dir, 'text');
    const saved = await runCli(['train', config, '--epochs', '0', '--out', out]);
    expect(saved.code, saved.stderr).toBe(0);
    const report = JSON.parse((await runCli(['inspect', out, '--json'])).stdout) as Inspection;
    expect(report.data).toMatchObject({ type: 'text', numWords: 50, maxLength: 8, labels: ['food', 'sports', 'tech'] });
    expect(report.data.vocabulary).toBeGreaterThan(10);
    expect(report.layers.map((l) => l.type)).toEqual(['Embedding', 'GlobalAveragePooling1D', 'Dense']);
  });

  it('says in one line when a path is neither a model nor a checkpoint', async () => {
    const [neither, missing] = await Promise.all([runCli(['inspect', tmp.dir]), runCli(['inspect', path.join(tmp.dir, 'nothing')])]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toMatch(/^adamant: \S+: neither a saved model \(no model\.json\) nor a checkpoint \(has no checkpoints \(step-\*\.ckpt\)\) \[E_MODEL\]\n$/);
    expect(missing.stderr).toMatch(/^adamant: \S+nothing: no such file or directory \[E_MODEL\]\n$/);
  });
});
