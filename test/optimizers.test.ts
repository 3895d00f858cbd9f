import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundClis, housingJob, newestCheckpointStep, runCli, tempDir, waitFor } from './support/cli.js';
import { weightBytes } from './support/reference.js';

/**
 * Schedules, clipping, AdamW and SGD run on the parameter server, so the worker count must not
 * change a bit of their result, and a resumed run must continue the schedule where it stopped.
 * Each job is the housing example for 2 epochs of 13 steps.
 */
const cosineWithWarmup = { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 30, alpha: 0.1, warmupTarget: 0.01, warmupSteps: 8 };

const variants: Record<string, unknown> = {
  'adam, staircase exponentialDecay, clipnorm': {
    adam: { learningRate: { schedule: 'exponentialDecay', initialLearningRate: 0.01, decaySteps: 5, decayRate: 0.7, staircase: true }, clipnorm: 1 },
  },
  'adamw, cosineDecay with warmup, globalClipnorm, biases excluded': {
    adamw: { learningRate: cosineWithWarmup, weightDecay: 0.05, excludeFromWeightDecay: ['bias'], globalClipnorm: 5 },
  },
  'sgd, Nesterov momentum, piecewiseConstantDecay, clipvalue': {
    sgd: {
      learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [8, 16], values: [0.01, 0.005, 0.001] },
      momentum: 0.9,
      nesterov: true,
      clipvalue: 1,
    },
  },
};
const names = Object.keys(variants);
// 3 workers split each batch's 4 chunks unevenly ([0] [1] [2, 3]); 2 would add nothing that 1 and 3 do not show.
const workerCounts = [1, 3];

/** Runs `tasks` with at most `limit` of them at a time (the runs are separate processes). */
async function inBatches<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += limit) results.push(...(await Promise.all(tasks.slice(i, i + limit).map((task) => task()))));
  return results;
}

describe('optimizers, schedules and clipping', () => {
  const tmp = tempDir('adamant-optimizers-');
  const clis = backgroundClis();
  const out = (variant: number, workers: number) => path.join(tmp.dir, `variant-${variant}-workers-${workers}`);

  beforeAll(async () => {
    const jobs = names.map((name, i) => housingJob(tmp.dir, { epochs: 2, optimizer: variants[name] }, `variant-${i}.json`));
    const train = (job: string, i: number, workers: number) => () => runCli(['train', job, '--workers', String(workers), '--out', out(i, workers)], { timeoutMs: 120_000 });
    const runs = jobs.flatMap((job, i) => workerCounts.map((workers) => train(job, i, workers)));
    for (const run of await inBatches(runs, 3)) expect(run.code, run.stderr).toBe(0);
  }, 300_000);
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it.each(names.map((name, i) => [name, i] as const))('%s: 1 and 3 workers give byte-identical weights', (_, i) => {
    const one = weightBytes(out(i, 1));
    for (const workers of workerCounts.slice(1)) expect(weightBytes(out(i, workers)).equals(one), `${workers} workers`).toBe(true);
    // Not a vacuous comparison: each optimizer block gives weights of its own.
    for (const j of names.keys()) if (j !== i) expect(one.equals(weightBytes(out(j, 1)))).toBe(false);
  });

  it('a run stopped by SIGTERM inside the cosine schedule\'s warmup or decay resumes on another worker count to the same bytes', async () => {
    const adamw = names.findIndex((name) => name.startsWith('adamw'));
    const job = path.join(tmp.dir, `variant-${adamw}.json`);
    const stopped = path.join(tmp.dir, 'stopped');
    const train = clis.start(['train', job, '--workers', '2', '--checkpoint-every', '3', '--out', stopped], { ADAMANT_SLOW_CHUNK_MS: '25' });
    await waitFor(() => newestCheckpointStep(stopped) >= 3, 'a checkpoint at step 3');
    train.child.kill('SIGTERM');
    const { code } = await train.exit;
    expect(code, train.output()).toBe(143);
    const stoppedAt = Number(train.output().match(/\(step (\d+)\)/)?.[1]);
    // Mid-schedule: past the first step, before the end of the 26 steps (the warmup ends at step 8).
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stoppedAt).toBeLessThan(26);
    expect(newestCheckpointStep(stopped)).toBe(stoppedAt);
    const resumed = await runCli(['train', '--resume', stopped, '--workers', '1'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(weightBytes(stopped).equals(weightBytes(out(adamw, 1)))).toBe(true);
  });
});
