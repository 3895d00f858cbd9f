import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { JobConfig, TableDataSpec } from './config.js';
import { DataError } from './errors.js';
import type { TokenizerJSON } from './text.js';
import { prepareTextData, type BadRowReport } from './textData.js';

/** Rows of features and targets, row-major in flat Float32Arrays. */
export interface Dataset {
  rows: number;
  featureCount: number;
  /** rows x featureCount */
  x: Float32Array;
  /** rows (one target per row) */
  y: Float32Array;
}

/** Per-feature standardisation, fitted on the training split only. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export interface PreparedData {
  /** Names of the input columns (tables) or of the token positions (text). */
  featureNames: string[];
  train: Dataset;
  validation: Dataset;
  /** Tables: standardisation fitted on the training split. */
  normalization?: Normalization;
  /** Text: the tokenizer fitted on the training split, saved with the model. */
  tokenizer?: TokenizerJSON;
  /** Text: rows skipped as bad (badRows "skip"), with the first few reasons. */
  badRows?: BadRowReport;
}

/**
 * A csv-parse failure as a DataError. csv-parse says "Invalid Record Length: expect 3, got 2 on
 * line 3"; we say "file:3: Invalid Record Length: expect 3, got 2", like every other data error.
 */
export function csvParseError(file: string, err: unknown): DataError {
  const { lines } = err as { lines?: number };
  const message = (err as Error).message.split('\n')[0]!.replace(/ (on|at) line \d+$/, '');
  return new DataError(`${file}${lines ? `:${lines}` : ''}: ${message}`, { cause: err });
}

/** The header row of a CSV, which must be there. */
export function headerOf(file: string, firstRecord: string[] | undefined): string[] {
  if (!firstRecord) throw new DataError(`${file}: the file is empty; expected a header row`);
  return firstRecord;
}

/** Where column `name` (named in config field data.`field`) sits in a CSV header. */
export function columnIndex(file: string, header: readonly string[], name: string, field: string): number {
  const index = header.indexOf(name);
  if (index < 0) throw new DataError(`${file}: no column "${name}" (named in data.${field}); the header has ${header.join(', ')}`);
  return index;
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: cannot read data file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

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

export function applyNormalization(data: Dataset, norm: Normalization): void {
  const { rows, featureCount: n, x } = data;
  for (let r = 0; r < rows; r++) for (let f = 0; f < n; f++) x[r * n + f] = (x[r * n + f]! - norm.mean[f]!) / norm.std[f]!;
}

/** Loads a job's data: reads it, splits off validation, and fits the preprocessing on the training split. */
export function prepareData(config: Pick<JobConfig, 'data' | 'validationSplit'>, saved: { tokenizer?: TokenizerJSON } = {}): PreparedData {
  const spec = config.data;
  if (spec.type === 'text') return prepareTextData(spec, config.validationSplit, saved.tokenizer);
  const all = loadCsv(spec);
  const { train, validation } = splitValidation(all, config.validationSplit);
  if (train.rows === 0) throw new DataError(`${spec.path}: validationSplit ${config.validationSplit} leaves no training rows`);
  let normalization: Normalization | undefined;
  if (spec.normalize) {
    normalization = fitNormalization(train);
    applyNormalization(train, normalization);
    applyNormalization(validation, normalization);
  }
  return { featureNames: [...spec.features], train, validation, ...(normalization ? { normalization } : {}) };
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
