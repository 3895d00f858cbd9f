import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJobConfig } from '../config/parse.js';
import { CheckpointError } from '../errors.js';
import { type Checkpoint, checkpointFiles, decodeCheckpoint, encodeCheckpoint, loadNewestCheckpoint, writeCheckpoint } from './checkpoint.js';
import { firstMathematicalDifference, jobIdOf } from './jobIdentity.js';

const config = parseJobConfig(
  { model: [{ type: 'dense', units: 1 }], loss: 'meanSquaredError', metrics: ['mae'], data: { path: 'x.csv', features: ['a'], target: 'y' }, epochs: 4 },
  'job.json',
);

function checkpoint(step: number): Checkpoint {
  return {
    jobId: 'abc',
    position: { epoch: 1, batch: 2, step },
    // Sums that float32 could not hold: they must come back as the same float64.
    epochTotals: { lossSum: 0.1 + 0.2, metricSums: [1 / 3], seconds: 1.5 },
    config,
    preparation: { normalization: { mean: [0.5], std: [2] }, tokenizer: null },
    history: [{ epoch: 1, loss: 0.25 }],
    weights: Float32Array.of(1, -2, 3.5),
    optimizer: { name: 'adam', step, slots: { m: Float32Array.of(0.1, 0.2, 0.3), v: Float32Array.of(1e-8, 2e-8, 3e-8) } },
  };
}

const dir = mkdtempSync(path.join(tmpdir(), 'adamant-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoints', () => {
  it('round-trip every field exactly', () => {
    const original = checkpoint(12);
    expect(decodeCheckpoint(encodeCheckpoint(original), 'c')).toEqual(original);
  });

  it('round-trip early stopping\'s and the best model\'s state, best weights included; one without them loads without them', () => {
    const monitoring = {
      earlyStopping: { monitor: 'val_loss', best: 0.1 + 0.2, bestEpoch: 3, wait: 2, stoppedEpoch: 0, bestWeights: Float32Array.of(0.5, -1, 2.25) },
      bestModel: { monitor: 'val_loss', best: 0.1 + 0.2, epoch: 4 },
    };
    const withState = { ...checkpoint(7), monitoring };
    const decoded = decodeCheckpoint(encodeCheckpoint(withState), 'c');
    expect(decoded).toEqual(withState);
    expect(decoded.monitoring?.earlyStopping?.bestWeights).toBeInstanceOf(Float32Array);
    const noWeights = { ...checkpoint(7), monitoring: { earlyStopping: { ...monitoring.earlyStopping, best: null, bestWeights: null } } };
    expect(decodeCheckpoint(encodeCheckpoint(noWeights), 'c')).toEqual(noWeights);
    expect('monitoring' in decodeCheckpoint(encodeCheckpoint(checkpoint(7)), 'c')).toBe(false);
    const torn = { ...checkpoint(7), monitoring: { earlyStopping: { ...monitoring.earlyStopping, bestWeights: Float32Array.of(1) } } };
    expect(() => decodeCheckpoint(encodeCheckpoint(torn), 'd.ckpt')).toThrow(/d\.ckpt: early stopping's best weights have 4 bytes, the weights 12/);
  });

  it('refuse a truncated file and a flipped bit by name', () => {
    const bytes = encodeCheckpoint(checkpoint(3));
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10), 'a.ckpt')).toThrow(/a\.ckpt: checksum mismatch/);
    expect(() => decodeCheckpoint(bytes.subarray(0, 20), 'a.ckpt')).toThrow(CheckpointError);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 0x10;
    expect(() => decodeCheckpoint(flipped, 'b.ckpt')).toThrow(/b\.ckpt: checksum mismatch/);
  });

  it('are written atomically and only the newest K are kept', () => {
    const folder = path.join(dir, 'keep', 'checkpoints');
    for (const step of [5, 10, 15, 20]) writeCheckpoint(folder, checkpoint(step), 3);
    expect(readdirSync(folder).sort()).toEqual(['step-000000010.ckpt', 'step-000000015.ckpt', 'step-000000020.ckpt']);
    expect(checkpointFiles(folder).map((f) => path.basename(f))).toEqual(['step-000000020.ckpt', 'step-000000015.ckpt', 'step-000000010.ckpt']);
  });

  it('resume from the newest one that reads back whole, naming the ones skipped', () => {
    const run = path.join(dir, 'run');
    const folder = path.join(run, 'checkpoints');
    for (const step of [5, 10, 15]) writeCheckpoint(folder, checkpoint(step), 3);
    const newest = path.join(folder, 'step-000000015.ckpt');
    writeFileSync(newest, readFileSync(newest).subarray(0, 100));
    const loaded = loadNewestCheckpoint(run);
    expect(loaded.checkpoint.position.step).toBe(10);
    expect(loaded.runDir).toBe(run);
    expect(loaded.skipped).toEqual([{ file: newest, reason: expect.stringMatching(/step-000000015\.ckpt: checksum mismatch/) }]);
    expect(loadNewestCheckpoint(path.join(folder, 'step-000000005.ckpt')).checkpoint.position.step).toBe(5);
    expect(() => loadNewestCheckpoint(path.join(dir, 'nothing'))).toThrow(/no such checkpoint or run directory/);
  });
});

describe('job identity', () => {
  const data = (y: number) => ({ featureNames: ['a'], train: { rows: 1, featureCount: 1, x: Float32Array.of(1), y: Float32Array.of(y) }, validation: { rows: 0, featureCount: 1, x: new Float32Array(0), y: new Float32Array(0) } });

  it('ignores epochs, backend and the data path, and follows the data and the mathematics', () => {
    const id = jobIdOf(config, data(2));
    expect(jobIdOf({ ...config, epochs: 9, backend: 'cpu', data: { ...config.data, path: '/elsewhere.csv' } }, data(2))).toBe(id);
    expect(jobIdOf(config, data(3))).not.toBe(id);
    expect(jobIdOf({ ...config, seed: 1 }, data(2))).not.toBe(id);
  });

  it('names the first field that changes the mathematics', () => {
    expect(firstMathematicalDifference(config, { ...config, epochs: 10 })).toBeUndefined();
    expect(firstMathematicalDifference(config, { ...config, optimizer: { ...config.optimizer, learningRate: 0.5 } })).toBe('optimizer.learningRate');
    expect(firstMathematicalDifference(config, { ...config, model: [{ ...config.model[0]!, units: 2 } as (typeof config.model)[number]] })).toBe('model[0].units');
    expect(firstMathematicalDifference(config, { ...config, batchSize: 64 })).toBe('batchSize');
  });
});
