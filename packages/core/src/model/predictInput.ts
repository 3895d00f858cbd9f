import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { TableDataSpec } from '../config/schema.js';
import { csvParseError, headerOf, readText } from '../data/csv.js';
import type { Dataset } from '../data/dataset.js';
import { applyNormalization } from '../data/table.js';
import { padSequence } from '../data/tokenizer.js';
import { DataError, ModelError } from '../errors.js';
import type { SavedModel } from './inference.js';

/**
 * New input for `adamant predict`, prepared as the saved model's training data was: texts
 * encoded with its tokenizer and padded to maxLength; table rows read by feature name and
 * standardised with its normalisation. No targets are read.
 */

type TextModel = Pick<SavedModel, 'dir' | 'config' | 'tokenizer'>;
type TableModel = Pick<SavedModel, 'dir' | 'config' | 'normalization'>;

/** Texts as the model's input: token ids, [texts, maxLength] row-major. */
export function textInput(saved: TextModel, texts: readonly string[]): Float32Array {
  const spec = saved.config.data;
  if (spec.type !== 'text') throw new ModelError(`${saved.dir}: this model reads table rows, not texts; give them with --csv FILE ("-" for stdin)`);
  if (!saved.tokenizer) throw new ModelError(`${saved.dir}: the saved model has no tokenizer`);
  const n = spec.maxLength;
  const ids = new Float32Array(texts.length * n);
  texts.forEach((text, r) => {
    padSequence(saved.tokenizer!.textToSequence(text), n, spec.padding, spec.truncating, ids, r * n);
  });
  return ids;
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * A CSV's rows as the model's input: its header names the columns; the model's features are
 * taken by name, in the model's order, and any other column (the target, an id) is ignored.
 * `source` names the input in messages ("stdin", or the file). A missing column or a cell that
 * is not a finite number is a DataError naming source:line and the column.
 */
export function tableInput(saved: TableModel, text: string, source: string): Dataset {
  const spec = tableSpecOf(saved);
  let records: CsvRecord[];
  try {
    records = parse(text, { skip_empty_lines: true, trim: true, info: true, relax_column_count: false }) as unknown as CsvRecord[];
  } catch (err) {
    throw csvParseError(source, err);
  }
  const header = headerOf(source, records[0]?.record);
  const headerLine = records[0]!.info.lines;
  const columns = spec.features.map((name) => {
    const column = header.indexOf(name);
    if (column < 0) throw new DataError(`${source}:${headerLine}: no column "${name.slice(0, 60)}"; the model reads the features ${listed(spec.features)}`);
    return column;
  });
  const rows = records.length - 1;
  const featureCount = columns.length;
  const x = new Float32Array(rows * featureCount);
  for (let r = 0; r < rows; r++) {
    const { record, info } = records[r + 1]!;
    for (let f = 0; f < featureCount; f++) {
      const cell = record[columns[f]!] ?? '';
      const value = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(value)) throw new DataError(`${source}:${info.lines}: column "${spec.features[f]}": ${JSON.stringify(cell.slice(0, 60))} is not a number`);
      x[r * featureCount + f] = value;
    }
  }
  const data: Dataset = { rows, featureCount, x, y: new Float32Array(rows) };
  if (spec.normalize) {
    if (!saved.normalization) throw new ModelError(`${saved.dir}: the saved model has no normalization for its features`);
    applyNormalization(data, saved.normalization);
  }
  return data;
}

/**
 * tableInput on a file, or on stdin for "-" (named "stdin" in messages). A file must be a regular
 * file (core's readText refuses FIFOs, devices and over-long lines). The model is checked first.
 */
export function readTableInput(saved: TableModel, file: string): Dataset {
  tableSpecOf(saved);
  return file === '-' ? tableInput(saved, readFileSync(0, 'utf8'), 'stdin') : tableInput(saved, readText(file), file);
}

/** The data block of a table model; a ModelError for a text model. */
function tableSpecOf(saved: TableModel): TableDataSpec {
  const spec = saved.config.data;
  if (spec.type !== 'table') throw new ModelError(`${saved.dir}: this model reads texts, not table rows; give them as arguments ("-" reads one per line from stdin)`);
  return spec;
}

/** The first few names, for a message. */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, 10).map((n) => (n.length > 40 ? `${n.slice(0, 37)}...` : n));
  return `${shown.join(', ')}${names.length > 10 ? `, … (${names.length})` : ''}`;
}
