import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EpochReport } from './reports.js';

/** One epoch as history.csv and history.json hold it, by Keras's log names; null where an old checkpoint's report lacks the figure. */
export type HistoryRow = Record<string, number | null>;

export const HISTORY_CSV = 'history.csv';
export const HISTORY_JSON = 'history.json';

/** An epoch's figures by Keras's log names: `loss`, each metric, and `val_loss` and `val_<metric>` when the epoch was validated. */
export function epochLogs(report: EpochReport): Record<string, number> {
  const logs: Record<string, number> = { loss: report.loss, ...report.metrics };
  if (report.valLoss !== undefined) logs.val_loss = report.valLoss;
  for (const [name, value] of Object.entries(report.valMetrics ?? {})) logs[`val_${name}`] = value;
  return logs;
}

/** A history row: the epoch (1-based, as the CLI prints it), its logs, the learning rate of its last step, samples/s and its training seconds. */
export function historyRow(report: EpochReport): HistoryRow {
  return {
    epoch: report.epoch,
    ...epochLogs(report),
    // A report from a checkpoint written before these figures existed has none.
    learning_rate: report.learningRate ?? null,
    samples_per_second: report.samplesPerSecond ?? null,
    seconds: report.seconds,
  };
}

/**
 * The rows as CSV: a header of every column in order of first appearance, then one line per row.
 * Every value is a number (written so that it reads back to the same float64) or empty, so no
 * quoting is ever needed.
 */
export function historyCsv(rows: readonly HistoryRow[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const lines = [columns.join(','), ...rows.map((row) => columns.map((column) => (row[column] === null || row[column] === undefined ? '' : String(row[column]))).join(','))];
  return `${lines.join('\n')}\n`;
}

/**
 * Rewrites `<dir>/history.csv` and `<dir>/history.json` with every epoch so far, each through a
 * temporary file and a rename, so a crash leaves the previous epoch's complete files.
 */
export function writeHistory(dir: string, history: readonly EpochReport[]): void {
  const rows = history.map(historyRow);
  writeAtomically(path.join(dir, HISTORY_CSV), historyCsv(rows));
  // One row a line: readable, and still one JSON array.
  writeAtomically(path.join(dir, HISTORY_JSON), `[\n${rows.map((row) => JSON.stringify(row)).join(',\n')}\n]\n`);
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}
