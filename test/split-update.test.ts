import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundClis, newestCheckpointStep, runCli, tempDir, waitFor, writeJson } from './support/cli.js';
import { writeTopicTexts } from './support/modelData.js';
import { weightBytes } from './support/reference.js';

/**
 * Issue 13's smaller serial step: with an embedding, the parameter server updates first the dense
 * weights and the rows the next step reads, sends that step, and updates the other rows while the
 * workers compute. No bit may move: a checkpoint between the two parts, a resume from it on another
 * worker count, `--verify`, and an epoch's last step (split when no validation follows, whole
 * before validation) all end on the bytes of the undisturbed run.
 */
describe('the split update of an embedding model', () => {
  const tmp = tempDir();
  const clis = backgroundClis();
  // A little slowness per chunk, so that the kill lands mid-run.
  const slow = { ADAMANT_SLOW_CHUNK_MS: '15' };
  let textsFile: string;
  /** The job with validation on held-out rows of their own file: the training rows, and so the weights, are those of the job without. */
  let validated: string;
  let baseline: string;

  /** An LSTM over 160 short texts, in 10 batches of 16 (4 chunks each) per epoch, with `overrides`. */
  const job = (name: string, overrides: Record<string, unknown>) =>
    writeJson(path.join(tmp.dir, name), {
      model: [
        { type: 'embedding', inputDim: 50, outputDim: 8, inputLength: 8 },
        { type: 'lstm', units: 8 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
      metrics: ['accuracy'],
      optimizer: { adam: { learningRate: 0.01 } },
      batchSize: 16,
      chunkSize: 4,
      epochs: 3,
      seed: 3,
      shuffle: true,
      data: { type: 'text', path: textsFile, labelField: 'mood', tokenizer: { numWords: 50 }, maxLength: 8 },
      ...overrides,
    });

  beforeAll(async () => {
    textsFile = writeTopicTexts(path.join(tmp.dir, 'texts.jsonl'), 160);
    validated = job('validated.json', { validationData: { path: writeTopicTexts(path.join(tmp.dir, 'held-out.jsonl'), 40, 21) } });
    baseline = path.join(tmp.dir, 'baseline');
    const run = await runCli(['train', validated, '--workers', '1', '--out', baseline]);
    expect(run.code, run.stderr).toBe(0);
  });
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it('a checkpoint written between the two parts, resumed on 3 workers after a SIGKILL, ends on the same bytes', async () => {
    const out = path.join(tmp.dir, 'killed');
    // A step's checkpoint is written right after its update's first part, before the next step.
    const train = clis.start(['train', validated, '--workers', '2', '--checkpoint-every', '3', '--out', out], slow);
    const killAfter = 3 * (1 + Math.floor(Math.random() * 6));
    await waitFor(() => newestCheckpointStep(out) >= killAfter, `a checkpoint at step ${killAfter}`);
    train.child.kill('SIGKILL');
    await train.exit;
    const resumed = await runCli(['train', '--resume', out, '--workers', '3']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  it("--verify on 3 workers, with each epoch's last step split too (no validation follows), ends on the same bytes", async () => {
    const out = path.join(tmp.dir, 'verified');
    const run = await runCli(['train', job('job.json', {}), '--workers', '3', '--verify', '0.5', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });
});
