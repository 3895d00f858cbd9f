import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EpochReport } from './reports.js';
import { epochLogs, historyCsv, historyRow, writeHistory } from './RunHistory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'adamant-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const validated: EpochReport = {
  epoch: 1,
  epochs: 2,
  loss: 0.1 + 0.2,
  metrics: { accuracy: 2 / 3, auc: 0.9 },
  valLoss: 1e-7 / 3,
  valMetrics: { accuracy: 0.5, auc: 0.75 },
  seconds: 1.25,
  learningRate: 0.0009999999,
  samplesPerSecond: 1234.5,
};

describe('history files', () => {
  it('name every figure as Keras logs it', () => {
    expect(epochLogs(validated)).toEqual({ loss: 0.1 + 0.2, accuracy: 2 / 3, auc: 0.9, val_loss: 1e-7 / 3, val_accuracy: 0.5, val_auc: 0.75 });
    expect(Object.keys(historyRow(validated))).toEqual(['epoch', 'loss', 'accuracy', 'auc', 'val_loss', 'val_accuracy', 'val_auc', 'learning_rate', 'samples_per_second', 'seconds']);
  });

  it('write CSV and JSON rows that read back to the same float64 numbers; an old report\'s missing figures are empty', () => {
    const old = { epoch: 2, epochs: 2, loss: 0.25, metrics: { accuracy: 0.75, auc: 0.8 }, valLoss: 0.5, valMetrics: { accuracy: 0.5, auc: 0.6 }, seconds: 2 } as unknown as EpochReport;
    writeHistory(dir, [validated, old]);
    const [header, ...lines] = readFileSync(path.join(dir, 'history.csv'), 'utf8').trim().split('\n');
    const columns = header!.split(',');
    const csvRows = lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [columns[i], cell === '' ? null : Number(cell)])));
    const jsonRows = JSON.parse(readFileSync(path.join(dir, 'history.json'), 'utf8')) as unknown[];
    expect(csvRows).toEqual([historyRow(validated), historyRow(old)]);
    expect(jsonRows).toEqual(csvRows);
    expect(csvRows[1]).toMatchObject({ learning_rate: null, samples_per_second: null });
  });

  it('put a column that only later epochs have in the header too', () => {
    const training = { ...validated, valLoss: undefined, valMetrics: undefined } as unknown as EpochReport;
    expect(historyCsv([historyRow(training), historyRow(validated)]).split('\n')[0]).toBe('epoch,loss,accuracy,auc,learning_rate,samples_per_second,seconds,val_loss,val_accuracy,val_auc');
  });
});
