import { parse } from 'csv-parse/sync';
import type { TableDataSpec } from '../config/schema.js';
import { DataError } from '../errors.js';
import { columnIndex, csvParseError, headerOf, readText } from './csv.js';
import type { Dataset, Normalization } from './dataset.js';

/**
 * Reads a numeric CSV with a header row. Every feature cell and the target must be a finite
 * number; the first bad cell is reported with its line and column.
 */
export function loadCsv(spec: Pick<TableDataSpec, 'path' | 'features' | 'target'>): Dataset {
  const file = spec.path;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(readText(file), { skip_empty_lines: true, trim: true, info: true, relax_column_count: false }) as unknown as typeof records;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw csvParseError(file, err);
  }
  const header = headerOf(file, records[0]?.record);
  const columnOf = (name: string, field: string): number => columnIndex(file, header, name, field);
  const featureColumns = spec.features.map((f) => columnOf(f, 'features'));
  const targetColumn = columnOf(spec.target, 'target');
  const rows = records.length - 1;
  if (rows === 0) throw new DataError(`${file}: no data rows after the header`);
  const featureCount = featureColumns.length;
  const x = new Float32Array(rows * featureCount);
  const y = new Float32Array(rows);
  const numberAt = (r: number, column: number): number => {
    const { record, info } = records[r + 1]!;
    const cell = record[column] ?? '';
    const value = cell === '' ? Number.NaN : Number(cell);
    if (!Number.isFinite(value)) {
      throw new DataError(`${file}:${info.lines}: column "${header[column]}": ${JSON.stringify(cell)} is not a number`);
    }
    return value;
  };
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < featureCount; f++) x[r * featureCount + f] = numberAt(r, featureColumns[f]!);
    y[r] = numberAt(r, targetColumn);
  }
  return { rows, featureCount, x, y };
}

/** Keras's validation_split: the last `fraction` of the rows (before any shuffling) is held out. */
export function splitValidation(data: Dataset, fraction: number): { train: Dataset; validation: Dataset } {
  const trainRows = Math.floor(data.rows * (1 - fraction));
  const slice = (from: number, to: number): Dataset => ({
    rows: to - from,
    featureCount: data.featureCount,
    x: data.x.slice(from * data.featureCount, to * data.featureCount),
    y: data.y.slice(from, to),
  });
  return { train: slice(0, trainRows), validation: slice(trainRows, data.rows) };
}

/** Mean and (population) deviation of each feature. */
export function fitNormalization(data: Dataset): Normalization {
  const { rows, featureCount: n, x } = data;
  const mean = new Array<number>(n).fill(0);
  const std = new Array<number>(n).fill(0);
  for (let r = 0; r < rows; r++) for (let f = 0; f < n; f++) mean[f]! += x[r * n + f]!;
  for (let f = 0; f < n; f++) mean[f]! /= rows;
  for (let r = 0; r < rows; r++) for (let f = 0; f < n; f++) std[f]! += (x[r * n + f]! - mean[f]!) ** 2;
  // A constant column would divide by zero: leave it centred but unscaled.
  for (let f = 0; f < n; f++) std[f] = Math.sqrt(std[f]! / rows) || 1;
  return { mean, std };
}

/** Standardises `data` in place with `norm`. */
export function applyNormalization(data: Dataset, norm: Normalization): void {
  const { rows, featureCount: n, x } = data;
  for (let r = 0; r < rows; r++) for (let f = 0; f < n; f++) x[r * n + f] = (x[r * n + f]! - norm.mean[f]!) / norm.std[f]!;
}

/** Gathers the given rows of a dataset into fresh contiguous arrays (a chunk's payload). */
export function gatherRows(data: Dataset, rows: Uint32Array): { x: Float32Array; y: Float32Array } {
  const n = data.featureCount;
  const x = new Float32Array(rows.length * n);
  const y = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    x.set(data.x.subarray(r * n, r * n + n), i * n);
    y[i] = data.y[r]!;
  }
  return { x, y };
}
