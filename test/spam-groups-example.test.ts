import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonResult, repoRoot, runCli, tempDir, writeJson, type CliResult } from './support/cli.js';

/**
 * examples/spam-groups on real data: its job, on a slice of the installed SpamAssassin file (two
 * short epochs, learning rate raised so that they suffice), trains on the workers' fused path and
 * learns beyond the majority class; the saved model evaluates and predicts with its class names.
 */
const example = path.join(repoRoot, 'examples/spam-groups');
const LABELS = ['easy_ham', 'hard_ham', 'spam', 'spam_2'];
const SLICE_ROWS = 2000;
const HELD_OUT = SLICE_ROWS * 0.2;

describe('examples/spam-groups', () => {
  const tmp = tempDir();
  const out = path.join(tmp.dir, 'out');
  const heldOut = path.join(tmp.dir, 'held-out.jsonl');
  let train: CliResult;
  let majority: number;

  beforeAll(async () => {
    // The root prepare script writes the data at install; this is a no-op when it is there.
    const prepare = spawnSync(process.execPath, [path.join(example, 'prepare.mjs')], { encoding: 'utf8' });
    expect(prepare.status, prepare.stderr).toBe(0);
    const lines = readFileSync(path.join(example, 'data/spam-groups.jsonl'), 'utf8').trim().split('\n').slice(0, SLICE_ROWS);
    writeFileSync(path.join(tmp.dir, 'slice.jsonl'), `${lines.join('\n')}\n`);
    const heldOutLines = lines.slice(-HELD_OUT);
    writeFileSync(heldOut, `${heldOutLines.join('\n')}\n`);
    const counts = new Map<string, number>();
    for (const line of heldOutLines) {
      const { label } = JSON.parse(line) as { label: string };
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    majority = Math.max(...counts.values()) / HELD_OUT;

    const job = JSON.parse(readFileSync(path.join(example, 'job.json'), 'utf8')) as { optimizer: unknown; data: Record<string, unknown> };
    const config = writeJson(path.join(tmp.dir, 'job.json'), {
      ...job,
      epochs: 2,
      optimizer: { adam: { learningRate: 0.003 } },
      data: { ...job.data, path: 'slice.jsonl' },
    });
    train = await runCli(['train', config, '--workers', '2', '--json', '--out', out], { timeoutMs: 240_000 });
    expect(train.code, train.stderr).toBe(0);
  }, 300_000);
  afterAll(() => tmp.cleanup());

  it('trains on the fused path and beats the majority class on the held-out rows', () => {
    const result = jsonResult(train) as { samples: number; workerBackends: string[]; valMetrics: { accuracy: number } };
    // wasm cannot differentiate an embedding with autodiff, so a wasm worker is on the fused path; the coordinator warns when a job is not.
    expect(result).toMatchObject({ samples: 2 * (SLICE_ROWS - HELD_OUT), workerBackends: [expect.stringMatching(/^wasm\+/)] });
    expect(train.stderr).not.toMatch(/autodiff/);
    expect(majority).toBeGreaterThan(0.5);
    expect(result.valMetrics.accuracy).toBeGreaterThan(majority + 0.05);
  });

  it('evaluate reports the held-out accuracy per class name, on the fused path', async () => {
    const run = await runCli(['evaluate', out, heldOut, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const evaluation = jsonResult(run) as { samples: number; metrics: { accuracy: number }; path: string; classes: { label: string; samples: number }[] };
    const trained = jsonResult(train) as { valMetrics: { accuracy: number } };
    expect(evaluation).toMatchObject({ samples: HELD_OUT, path: 'fused' });
    expect(evaluation.metrics.accuracy).toBeCloseTo(trained.valMetrics.accuracy, 6);
    expect(evaluation.classes.map((c) => c.label)).toEqual(LABELS);
    expect(evaluation.classes.reduce((sum, c) => sum + c.samples, 0)).toBe(HELD_OUT);
  });

  it('predict prints a class name and the four probabilities', async () => {
    const run = await runCli(['predict', out, 'Re: the build fails on the new kernel, patch attached']);
    expect(run.code, run.stderr).toBe(0);
    const [label, probabilities] = run.stdout.trim().split('\t');
    expect(LABELS).toContain(label);
    const values = LABELS.map((name) => Number(new RegExp(`${name} ([0-9.]+)`).exec(probabilities ?? '')?.[1]));
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  });
});
