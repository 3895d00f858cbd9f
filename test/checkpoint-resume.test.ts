import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alive, backgroundClis, checkpointsOf, childPids, housingJob, newestCheckpointStep, runCli, tempDir, waitFor, writeJson } from './support/cli.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Nothing lost when the coordinator dies: checkpoints are written as training goes, and a run
 * resumed from one, on any number of workers, ends bitwise where the run that never stopped ends.
 */
describe('checkpoints and resume', () => {
  const tmp = tempDir();
  let configPath: string;
  let baseline: string;
  // A little slowness per chunk so that a run lasts long enough to be interrupted mid-epoch.
  const slow = { ADAMANT_SLOW_CHUNK_MS: '10' };
  const clis = backgroundClis();
  const start = clis.start;

  beforeAll(async () => {
    configPath = housingJob(tmp.dir, { epochs: 4 });
    baseline = await sharedRun(configPath, ['--workers', '1']);
  });
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it('adamant train killed with SIGKILL at a random step resumes on another worker count to the same bytes; its workers exit', async () => {
    const out = path.join(tmp.dir, 'killed');
    const train = start(['train', configPath, '--workers', '2', '--checkpoint-every', '3', '--heartbeat', '2', '--out', out], slow);
    const killAt = 3 * (1 + Math.floor(Math.random() * 12));
    await waitFor(() => newestCheckpointStep(out) >= killAt, `a checkpoint at step ${killAt}`);
    const workers = childPids(train.child.pid!);
    expect(workers).toHaveLength(2);
    train.child.kill('SIGKILL');
    await train.exit;
    // The workers notice the lost coordinator and exit by themselves.
    await waitFor(() => workers.every((pid) => !alive(pid)), 'the first run\'s workers to exit', 15_000);
    // Resumed on another number of workers: the same bytes still.
    const resumed = await runCli(['train', '--resume', out, '--workers', '3']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} writes a checkpoint, exits ${code}, and the resume is byte-identical`, async () => {
      const out = path.join(tmp.dir, signal);
      const train = start(['train', configPath, '--workers', '2', '--out', out], slow);
      await waitFor(() => newestCheckpointStep(out) > 0, 'the first checkpoint');
      train.child.kill(signal);
      const { code: exitCode } = await train.exit;
      expect(exitCode, train.output()).toBe(code);
      expect(train.output()).toMatch(new RegExp(`stopped by ${signal} at epoch \\d+, batch \\d+ \\(step (\\d+)\\); checkpoint \\S+step-\\d+\\.ckpt`));
      expect(train.output()).toContain(`--resume ${out}`);
      const stoppedAt = Number(train.output().match(/\(step (\d+)\)/)?.[1]);
      expect(newestCheckpointStep(out)).toBe(stoppedAt);
      const resumed = await runCli(['train', '--resume', out, '--workers', '1']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
    });
  }

  it('skips a truncated and a bit-flipped checkpoint by name and resumes from the one before', async () => {
    const out = path.join(tmp.dir, 'corrupt');
    const train = start(['train', configPath, '--workers', '2', '--checkpoint-every', '2', '--keep-checkpoints', '3', '--out', out], slow);
    await waitFor(() => checkpointsOf(out).length === 3 && newestCheckpointStep(out) >= 8, 'three checkpoints');
    train.child.kill('SIGTERM');
    expect((await train.exit).code).toBe(143);
    const files = checkpointsOf(out);
    const [oldest, middle, newest] = files as [string, string, string];
    writeFileSync(newest, readFileSync(newest).subarray(0, 1000));
    const flipped = readFileSync(middle);
    flipped[flipped.length >> 1]! ^= 0x01;
    writeFileSync(middle, flipped);
    const resumed = await runCli(['train', '--resume', out, '--workers', '1', '--log-level', 'info']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`skipping checkpoint ${newest}`);
    expect(resumed.stderr).toContain(`skipping checkpoint ${middle}`);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from checkpoint file=${oldest.replaceAll('.', '\\.')}`));
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  it('2 + 2 epochs with --resume equal 4 epochs, byte for byte', async () => {
    const out = path.join(tmp.dir, 'two-plus-two');
    const first = await runCli(['train', configPath, '--workers', '2', '--epochs', '2', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(false);
    const second = await runCli(['train', '--resume', out, '--workers', '1', '--epochs', '4', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
    // The history carries on too: the saved summary's final loss is the baseline's.
    const summary = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'adamant.json'), 'utf8')) as { summary: { loss: number; valLoss: number } }).summary;
    expect(summary(out).loss).toBe(summary(baseline).loss);
    expect(summary(out).valLoss).toBe(summary(baseline).valLoss);
  });

  it('refuses a resume whose config changes the mathematics, naming the field', async () => {
    // A copy of the finished 4-epoch baseline: resuming writes into it.
    const out = path.join(tmp.dir, 'changed');
    cpSync(baseline, out, { recursive: true });
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    const changed = writeJson(path.join(tmp.dir, 'changed.json'), { ...config, batchSize: 16 });
    const refused = await runCli(['train', changed, '--resume', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot resume: the config's batchSize differs from the checkpoint's.*\[E_CHECKPOINT\]/);
    const longer = writeJson(path.join(tmp.dir, 'longer.json'), { ...config, epochs: 5 });
    expect((await runCli(['train', longer, '--resume', out, '--workers', '1'])).code).toBe(0);
  });

  it('--init keeps a table model\'s normalisation', async () => {
    // The baseline, trained on all the rows, continued on a few: its normalisation stays that of all the rows.
    const init = baseline;
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { data: { path: string } };
    const csv = readFileSync(config.data.path, 'utf8').split('\n');
    writeFileSync(path.join(tmp.dir, 'few.csv'), `${csv.slice(0, 120).join('\n')}\n`);
    const few = writeJson(path.join(tmp.dir, 'few.json'), { ...config, data: { ...config.data, path: path.join(tmp.dir, 'few.csv') } });
    const continued = path.join(tmp.dir, 'continued');
    const fresh = path.join(tmp.dir, 'fresh');
    expect((await runCli(['train', few, '--epochs', '1', '--workers', '1', '--init', init, '--out', continued])).code).toBe(0);
    // Fresh on the few rows: its normalisation is fitted when the model is built, before any training.
    expect((await runCli(['train', few, '--epochs', '0', '--out', fresh])).code).toBe(0);
    const normalization = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'adamant.json'), 'utf8')) as { normalization: unknown }).normalization;
    expect(normalization(continued)).toEqual(normalization(init));
    expect(normalization(fresh)).not.toEqual(normalization(init));
  });
});
