import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeCheckpoint, learningRateAt, loadNewestCheckpoint } from '@adamant/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundClis, checkpointsOf, housingJob, jsonResult, newestCheckpointStep, runCli, tempDir, waitFor, type CliResult } from './support/cli.js';
import { weightBytes } from './support/reference.js';

/**
 * Issue 11, items 5, 7 and 8: early stopping, the best model in `<out>/best/`, the history files,
 * and their state in checkpoints. Two housing jobs whose validation loss falls and then rises:
 * `rising` (a constant, high learning rate; patience 3) and `cosine` (a cosine schedule with
 * warmup; patience 4 and minDelta 5), each stopping within ten epochs of 14 or 15 steps.
 */
type HistoryRow = Record<string, number | null>;

const cosine = { schedule: 'cosineDecay' as const, initialLearningRate: 0, decaySteps: 400, alpha: 0.1, warmupTarget: 0.08, warmupSteps: 10 };
const risingPatience = 3;
const cosinePatience = 4;

/** The first epoch (1-based) with the lowest val_loss, as Keras's EarlyStopping with minDelta 0 finds it. */
function lowestValLoss(history: HistoryRow[]): number {
  let best = 0;
  history.forEach((row, i) => {
    if (row.val_loss! < history[best]!.val_loss!) best = i;
  });
  return best + 1;
}

function csvRows(file: string): HistoryRow[] {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [columns[i]!, cell === '' ? null : Number(cell)])));
}

/** The rows without their timings, which differ from run to run. */
const figures = (rows: HistoryRow[]) => rows.map(({ seconds: _s, samples_per_second: _r, ...rest }) => rest);

/** Checks the run succeeded; returns its `--json` summary when it printed one. */
function expectSuccess(run: CliResult): Record<string, unknown> {
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trimStart().startsWith('{') ? jsonResult(run) : {};
}

describe('early stopping, the best model and the history files', () => {
  const tmp = tempDir('adamant-early-stopping-');
  const clis = backgroundClis();
  const out = (name: string) => path.join(tmp.dir, name);
  const stopping = { patience: risingPatience, restoreBestWeights: true };
  const rising = housingJob(tmp.dir, { epochs: 25, validationSplit: 0.1, optimizer: { adam: { learningRate: 0.03 } }, earlyStopping: stopping }, 'rising.json');
  const risingKeepLast = housingJob(
    tmp.dir,
    { epochs: 25, validationSplit: 0.1, optimizer: { adam: { learningRate: 0.03 } }, earlyStopping: { ...stopping, restoreBestWeights: false } },
    'rising-keep-last.json',
  );
  const cosineJob = housingJob(
    tmp.dir,
    { epochs: 14, validationSplit: 0.1, optimizer: { adam: { learningRate: cosine } }, earlyStopping: { patience: cosinePatience, minDelta: 5, restoreBestWeights: true } },
    'cosine.json',
  );
  let risingResult: Record<string, unknown>;
  let cosineResult: Record<string, unknown>;

  beforeAll(async () => {
    const [two, one, full] = await Promise.all([
      runCli(['train', rising, '--workers', '2', '--json', '--out', out('rising-2')], { timeoutMs: 120_000 }),
      runCli(['train', rising, '--workers', '1', '--out', out('rising-1')], { timeoutMs: 120_000 }),
      runCli(['train', cosineJob, '--workers', '2', '--json', '--keep-checkpoints', '50', '--out', out('cosine')], { timeoutMs: 120_000 }),
    ]);
    risingResult = expectSuccess(two);
    expectSuccess(one);
    cosineResult = expectSuccess(full);
  }, 240_000);
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it('stops patience epochs after the lowest val_loss; best/ and the final model are exactly the run stopped there by --epochs', async () => {
    const history = risingResult.history as HistoryRow[];
    const bestEpoch = lowestValLoss(history);
    const stoppedAt = bestEpoch + risingPatience;
    // The validation loss fell for some epochs, then rose for patience epochs, well before the 25th.
    expect(bestEpoch).toBeGreaterThan(1);
    expect(stoppedAt).toBeLessThan(25);
    expect(history).toHaveLength(stoppedAt);
    expect(risingResult.earlyStopping).toMatchObject({ epoch: stoppedAt, bestEpoch, monitor: 'val_loss', wait: risingPatience, restoredBestWeights: true });
    expect(risingResult.earlyStopping).toMatchObject({ best: history[bestEpoch - 1]!.val_loss, reason: `val_loss did not improve for ${risingPatience} epochs` });
    expect(risingResult.best).toEqual({ monitor: 'val_loss', value: history[bestEpoch - 1]!.val_loss, epoch: bestEpoch, dir: path.join(out('rising-2'), 'best') });

    const [there, keepLast] = await Promise.all([
      runCli(['train', rising, '--epochs', String(bestEpoch), '--workers', '1', '--out', out('rising-there')], { timeoutMs: 120_000 }),
      runCli(['train', risingKeepLast, '--workers', '1', '--out', out('rising-keep-last')], { timeoutMs: 120_000 }),
    ]);
    expectSuccess(there);
    expectSuccess(keepLast);
    expect(keepLast.stdout).toContain(`stopped early after epoch ${stoppedAt} of 25: val_loss did not improve for ${risingPatience} epochs`);
    const best = weightBytes(path.join(out('rising-2'), 'best'));
    expect(best.equals(weightBytes(out('rising-there')))).toBe(true);
    expect(weightBytes(out('rising-2')).equals(best)).toBe(true);
    // Without restoreBestWeights the run ends on its last epoch's weights, which are not the best ones; best/ is the same.
    expect(weightBytes(out('rising-keep-last')).equals(best)).toBe(false);
    expect(weightBytes(path.join(out('rising-keep-last'), 'best')).equals(best)).toBe(true);
  });

  it('1 and 2 workers give byte-identical best/ and final weights', () => {
    for (const dir of ['', 'best']) expect(weightBytes(path.join(out('rising-1'), dir)).equals(weightBytes(path.join(out('rising-2'), dir))), dir || 'final').toBe(true);
  });

  it('history.csv and history.json hold the --json history, with the learning rate of each epoch\'s last step', () => {
    const history = cosineResult.history as HistoryRow[];
    const json = JSON.parse(readFileSync(path.join(out('cosine'), 'history.json'), 'utf8')) as HistoryRow[];
    expect(json).toEqual(history);
    expect(csvRows(path.join(out('cosine'), 'history.csv'))).toEqual(history);
    expect(Object.keys(history[0]!)).toEqual(['epoch', 'loss', 'mae', 'val_loss', 'val_mae', 'learning_rate', 'samples_per_second', 'seconds']);
    const stepsPerEpoch = (cosineResult.steps as number) / history.length;
    expect(Number.isInteger(stepsPerEpoch)).toBe(true);
    history.forEach((row, i) => {
      expect(row.epoch).toBe(i + 1);
      expect(row.learning_rate).toBe(learningRateAt(cosine, (i + 1) * stepsPerEpoch - 1));
      expect(row.samples_per_second).toBeGreaterThan(0);
    });
    // The schedule moves: warmup to 0.08 within the first epoch, then decays.
    expect(history[1]!.learning_rate!).toBeLessThan(history[0]!.learning_rate!);
    expect(cosineResult.earlyStopping).toMatchObject({ epoch: history.length, wait: cosinePatience, restoredBestWeights: true });
  });

  it('a run killed mid-schedule with half its patience used resumes to the same stop, best/, weights and history', async () => {
    // The epoch end after which early stopping's wait is half the patience, from the uninterrupted run's checkpoints.
    const states = checkpointsOf(out('cosine')).map((file) => decodeCheckpoint(readFileSync(file), file));
    const halfway = states.find((c) => c.position.batch === 0 && c.monitoring?.earlyStopping?.wait === cosinePatience / 2);
    expect(halfway, 'an epoch end with half the patience used').toBeDefined();
    const after = halfway!.position.step;

    const killed = out('cosine-killed');
    const train = clis.start(['train', cosineJob, '--workers', '2', '--checkpoint-every', '3', '--keep-checkpoints', '50', '--heartbeat', '2', '--out', killed], {
      ADAMANT_SLOW_CHUNK_MS: '15',
    });
    await waitFor(() => newestCheckpointStep(killed) > after, `a checkpoint after step ${after}`, 120_000);
    train.child.kill('SIGKILL');
    await train.exit;
    const { checkpoint } = loadNewestCheckpoint(killed);
    // Mid-epoch, past the warmup and inside the decay, with half the patience used.
    expect(checkpoint.position.epoch).toBe(halfway!.position.epoch);
    expect(checkpoint.position.batch).toBeGreaterThan(0);
    expect(checkpoint.position.step).toBeGreaterThan(cosine.warmupSteps);
    expect(checkpoint.position.step).toBeLessThan(cosine.warmupSteps + cosine.decaySteps);
    expect(checkpoint.monitoring?.earlyStopping?.wait).toBe(cosinePatience / 2);
    expect(checkpoint.monitoring?.earlyStopping?.bestWeights).toBeInstanceOf(Float32Array);

    const resumed = expectSuccess(await runCli(['train', '--resume', killed, '--workers', '1', '--json'], { timeoutMs: 120_000 }));
    expect(resumed.earlyStopping).toEqual(cosineResult.earlyStopping);
    expect(weightBytes(killed).equals(weightBytes(out('cosine')))).toBe(true);
    expect(weightBytes(path.join(killed, 'best')).equals(weightBytes(path.join(out('cosine'), 'best')))).toBe(true);
    const full = cosineResult.history as HistoryRow[];
    expect(figures(resumed.history as HistoryRow[])).toEqual(figures(full));
    expect(figures(csvRows(path.join(killed, 'history.csv')))).toEqual(figures(full));
  });
});
