import { parse } from 'csv-parse/sync';
import type { TableDataSpec } from '../config/schema.js';
import { DataError } from '../errors.js';
import { columnIndex, csvParseError, headerOf, readText } from './csv.js';
import type { Dataset, Normalization } from './dataset.js';
import { labelKey } from './labels.js';
import { parseSampleWeight, SAMPLE_WEIGHT_RULE } from './weights.js';

interface TableRecords {
  file: string;
  header: string[];
  records: { record: string[]; info: { lines: number } }[];
  featureColumns: number[];
  targetColumn: number;
  /** The data.sampleWeight column, when the job names one. */
  weightColumn?: number;
}

/** What reading a table needs of its spec. */
type TableColumns = Pick<TableDataSpec, 'path' | 'features' | 'target' | 'sampleWeight'>;

function readTable(spec: TableColumns): TableRecords {
  const file = spec.path;
  let records: TableRecords['records'];
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
  const weightColumn = spec.sampleWeight === undefined ? undefined : columnOf(spec.sampleWeight, 'sampleWeight');
  if (records.length === 1) throw new DataError(`${file}: no data rows after the header`);
  return { file, header, records, featureColumns, targetColumn, ...(weightColumn === undefined ? {} : { weightColumn }) };
}

/** The sample weight of data row r (weights.ts); else a DataError naming the line, the column and data.sampleWeight. */
function weightAt(table: TableRecords, r: number, column: number): number {
  const { record, info } = table.records[r + 1]!;
  const weight = parseSampleWeight(record[column] ?? '');
  if (typeof weight === 'string') {
    throw new DataError(`${table.file}:${info.lines}: column "${table.header[column]}" (data.sampleWeight): ${weight}; ${SAMPLE_WEIGHT_RULE}`);
  }
  return weight;
}

/** Cell `column` of data row r as a finite number; else a DataError naming the line and column. */
function numberAt(table: TableRecords, r: number, column: number): number {
  const { record, info } = table.records[r + 1]!;
  const cell = record[column] ?? '';
  const value = cell === '' ? Number.NaN : Number(cell);
  if (!Number.isFinite(value)) {
    throw new DataError(`${table.file}:${info.lines}: column "${table.header[column]}": ${JSON.stringify(cell)} is not a number`);
  }
  return value;
}

/**
 * The features of every row, row-major, with `target(r)` read after row r's features and its
 * sample weight (if any) after that, so the first bad cell is the one reported.
 */
function readRows(table: TableRecords, target: (r: number) => number): Dataset {
  const rows = table.records.length - 1;
  const featureCount = table.featureColumns.length;
  const x = new Float32Array(rows * featureCount);
  const y = new Float32Array(rows);
  const { weightColumn } = table;
  const w = weightColumn === undefined ? undefined : new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < featureCount; f++) x[r * featureCount + f] = numberAt(table, r, table.featureColumns[f]!);
    y[r] = target(r);
    if (w) w[r] = weightAt(table, r, weightColumn!);
  }
  return { rows, featureCount, x, y, ...(w ? { w } : {}) };
}

/**
 * Reads a numeric CSV with a header row. Every feature cell and the target must be a finite
 * number; the first bad cell is reported with its line and column.
 */
export function loadCsv(spec: TableColumns): Dataset {
  const table = readTable(spec);
  return readRows(table, (r) => numberAt(table, r, table.targetColumn));
}

/**
 * Reads a CSV whose target is a class label (a classifier's table): the features as loadCsv reads
 * them, and each row's label key (labels.ts) and line. `y` is left at zero: the class indices come once the label set is known.
 */
export function loadLabeledCsv(spec: TableColumns): { data: Dataset; keys: string[]; lines: number[] } {
  const table = readTable(spec);
  const keys: string[] = [];
  const lines: number[] = [];
  const data = readRows(table, (r) => {
    const { record, info } = table.records[r + 1]!;
    const cell = record[table.targetColumn] ?? '';
    const key = labelKey(cell);
    if (key === undefined) throw new DataError(`${table.file}:${info.lines}: column "${spec.target}": ${JSON.stringify(cell)} is not a class label`);
    keys.push(key);
    lines.push(info.lines);
    return 0;
  });
  return { data, keys, lines };
}

/** Keras's validation_split: the last `fraction` of the rows (before any shuffling) is held out. */
export function splitValidation(data: Dataset, fraction: number): { train: Dataset; validation: Dataset } {
  return splitAt(data, Math.floor(data.rows * (1 - fraction)));
}

/** The first `trainRows` rows and the rest, as copies. */
export function splitAt(data: Dataset, trainRows: number): { train: Dataset; validation: Dataset } {
  const slice = (from: number, to: number): Dataset => ({
    rows: to - from,
    featureCount: data.featureCount,
    x: data.x.slice(from * data.featureCount, to * data.featureCount),
    y: data.y.slice(from, to),
    ...(data.w ? { w: data.w.slice(from, to) } : {}),
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

/** Gathers the given rows of a dataset into fresh contiguous arrays (a chunk's payload), their weights too when it has them. */
export function gatherRows(data: Dataset, rows: Uint32Array): { x: Float32Array; y: Float32Array; w?: Float32Array } {
  const n = data.featureCount;
  const x = new Float32Array(rows.length * n);
  const y = new Float32Array(rows.length);
  const w = data.w ? new Float32Array(rows.length) : undefined;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    x.set(data.x.subarray(r * n, r * n + n), i * n);
    y[i] = data.y[r]!;
    if (w) w[i] = data.w![r]!;
  }
  return w ? { x, y, w } : { x, y };
}
