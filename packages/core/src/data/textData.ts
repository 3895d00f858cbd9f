import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { JobConfig, TextDataSpec } from '../config/schema.js';
import { DataError } from '../errors.js';
import { columnIndex, csvParseError, headerOf, readText } from './csv.js';
import type { Dataset, LoadedData, Preparation } from './dataset.js';
import { labelKey } from './labels.js';
import { assignClasses, checkHeadWidth, knownLabelSet } from './targets.js';
import { padSequence, Tokenizer } from './tokenizer.js';
import { parseSampleWeight, SAMPLE_WEIGHT_RULE } from './weights.js';

/** One usable row: its text, its label's key (labels.ts), its sample weight (with data.sampleWeight) and the (1-based) line it starts on. */
export interface TextRecord {
  text: string;
  label: string;
  weight?: number;
  line: number;
}

type Fields = Pick<TextDataSpec, 'textField' | 'labelField' | 'sampleWeight'>;

/** A field's value where the field may be missing from the row. */
interface FieldValue {
  present: boolean;
  value: unknown;
}

function formatOf(spec: Pick<TextDataSpec, 'path' | 'format'>): 'csv' | 'jsonl' {
  if (spec.format) return spec.format;
  const ext = path.extname(spec.path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  throw new DataError(`${spec.path}: cannot tell the format from the extension ${JSON.stringify(ext)}; set data.format to "csv" or "jsonl"`);
}

/** A value for a message: JSON, cut short so the message stays one readable line. */
function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Checks one row's text and label; returns the record, or the reason it is bad (without
 * file:line). Whether the label is in the label set is decided later (targets.ts), once the set is known.
 */
function checkRow(text: FieldValue, label: FieldValue, weight: FieldValue | undefined, fields: Fields): Omit<TextRecord, 'line'> | string {
  if (!text.present || text.value === undefined) return `missing text field ${JSON.stringify(fields.textField)}`;
  if (typeof text.value !== 'string') return `text field ${JSON.stringify(fields.textField)} is not a string: ${show(text.value)}`;
  if (text.value.trim() === '') return `text field ${JSON.stringify(fields.textField)} is empty`;
  if (!label.present || label.value === undefined) return `missing label field ${JSON.stringify(fields.labelField)}`;
  const key = labelKey(label.value);
  if (key === undefined) return `label ${show(label.value)} is not a class label (a string or a number)`;
  if (!weight) return { text: text.value, label: key };
  const field = `sample weight field ${JSON.stringify(fields.sampleWeight)} (data.sampleWeight)`;
  if (!weight.present || weight.value === undefined) return `missing ${field}`;
  const value = parseSampleWeight(weight.value);
  return typeof value === 'string' ? `${field}: ${value}; ${SAMPLE_WEIGHT_RULE}` : { text: text.value, label: key, weight: value };
}

interface Row {
  line: number;
  result: Omit<TextRecord, 'line'> | string;
}

function jsonlRows(content: string, fields: Fields): Row[] {
  const rows: Row[] = [];
  const lines = content.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!;
    if (source.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch {
      rows.push({ line: i + 1, result: 'not valid JSON' });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      rows.push({ line: i + 1, result: 'not a JSON object' });
      continue;
    }
    const object = value as Record<string, unknown>;
    const field = (name: string): FieldValue => ({ present: Object.hasOwn(object, name), value: object[name] });
    const weight = fields.sampleWeight === undefined ? undefined : field(fields.sampleWeight);
    rows.push({ line: i + 1, result: checkRow(field(fields.textField), field(fields.labelField), weight, fields) });
  }
  return rows;
}

/**
 * CSV with a header row. A row's line is the line its record STARTS on (the header is line 1),
 * also for quoted fields that span lines. It is counted from csv-parse's byte offsets, since its
 * own line count runs ahead on CRLF line breaks inside quotes.
 */
function csvRows(file: string, content: string, fields: Fields): Row[] {
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parse(content, { bom: true, skip_empty_lines: true, trim: true, info: true, relax_column_count: true }) as unknown as typeof parsed;
  } catch (err) {
    throw csvParseError(file, err);
  }
  const header = headerOf(file, parsed[0]?.record);
  const textColumn = columnIndex(file, header, fields.textField, 'textField');
  const labelColumn = columnIndex(file, header, fields.labelField, 'labelField');
  const weightColumn = fields.sampleWeight === undefined ? undefined : columnIndex(file, header, fields.sampleWeight, 'sampleWeight');

  const bytes = Buffer.from(content);
  let cursor = 0;
  let line = 1;
  /** The 1-based line of byte `offset`; offsets must not decrease from call to call. */
  const lineAt = (offset: number): number => {
    for (; cursor < offset; cursor++) if (bytes[cursor] === 0x0a) line++;
    return line;
  };
  let end = parsed[0]!.info.bytes;
  const rows: Row[] = [];
  for (let r = 1; r < parsed.length; r++) {
    const { record, info } = parsed[r]!;
    // The record starts after the previous one's end and the empty lines skipped since.
    let start = end;
    while (start < info.bytes && (bytes[start] === 0x0a || bytes[start] === 0x0d)) start++;
    end = info.bytes;
    const rowLine = lineAt(start);
    if (record.length !== header.length) {
      rows.push({ line: rowLine, result: `has ${record.length} fields, but the header has ${header.length}` });
      continue;
    }
    const cell = (column: number): FieldValue => ({ present: true, value: record[column] });
    rows.push({ line: rowLine, result: checkRow(cell(textColumn), cell(labelColumn), weightColumn === undefined ? undefined : cell(weightColumn), fields) });
  }
  return rows;
}

/**
 * Reads a text-classification file (CSV with a header, or JSONL) into records with a label key.
 * A bad row (no text, no label, a line that is not a JSON object) stops the read
 * when data.badRows is "fail"; with "skip" it is left out and described in `bad` as
 * "file:line: reason". A missing CSV column, an unreadable file, and a file without a single good
 * row always throw a DataError.
 */
export function readTextRecords(spec: Pick<TextDataSpec, 'path' | 'format' | 'textField' | 'labelField' | 'badRows' | 'sampleWeight'>): {
  records: TextRecord[];
  bad: string[];
} {
  const file = spec.path;
  const format = formatOf(spec);
  const content = readText(file);
  const rows = format === 'csv' ? csvRows(file, content, spec) : jsonlRows(content, spec);
  const records: TextRecord[] = [];
  const bad: string[] = [];
  for (const { line, result } of rows) {
    if (typeof result !== 'string') {
      records.push({ ...result, line });
      continue;
    }
    const description = `${file}:${line}: ${result}`;
    if (spec.badRows === 'fail') throw new DataError(description);
    bad.push(description);
  }
  if (records.length === 0) {
    const why = bad.length > 0 ? `; all ${bad.length} rows are bad, the first: ${bad[0]!}` : '';
    throw new DataError(`${file}: no rows with a text and a label${why}`);
  }
  return { records, bad };
}

/** Token ids of each text, padded or truncated to maxLength (x), beside the targets `y` (one per text). */
export function encodeTexts(
  texts: readonly string[],
  y: Float32Array,
  tokenizer: Tokenizer,
  spec: Pick<TextDataSpec, 'maxLength' | 'padding' | 'truncating'>,
): Dataset {
  const rows = texts.length;
  const n = spec.maxLength;
  const x = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) padSequence(tokenizer.textToSequence(texts[r]!), n, spec.padding, spec.truncating, x, r * n);
  return { rows, featureCount: n, x, y };
}

/**
 * Loads a text job's data: reads the records, turns their labels into class indices and holds out
 * the last `validationSplit` of them (Keras's validation_split, before any shuffling; targets.ts),
 * fits the tokenizer on the training texts only (or takes a saved one), and encodes both splits as
 * padded token ids. `bad` lists every row left out, as "file:line: reason".
 */
export function loadTextData(spec: TextDataSpec, config: Pick<JobConfig, 'loss' | 'model' | 'validationSplit'>, saved: Preparation = {}): LoadedData {
  const { records, bad } = readTextRecords(spec);
  const classes = assignClasses(
    records.map((r) => r.label),
    {
      file: spec.path,
      validationSplit: config.validationSplit,
      unknownLabels: spec.unknownLabels,
      known: saved.labelSet ?? knownLabelSet({ ...config, data: spec }, saved.labels),
      lineOf: (i) => records[i]!.line,
    },
  );
  checkHeadWidth(config, classes.labels);
  const texts = Array.from(classes.rows, (i) => records[i]!.text);
  const { trainRows } = classes;
  // Training on from a saved model (--init) keeps its vocabulary: its embedding rows mean those words.
  const tokenizer = saved.tokenizer ? Tokenizer.fromJSON(saved.tokenizer) : Tokenizer.fit(texts.slice(0, trainRows), spec.tokenizer);
  const weights = spec.sampleWeight === undefined ? undefined : Float32Array.from(classes.rows, (i) => records[i]!.weight!);
  const encoded = (from: number, to: number): Dataset => {
    const data = encodeTexts(texts.slice(from, to), classes.y.slice(from, to), tokenizer, spec);
    return weights ? { ...data, w: weights.slice(from, to) } : data;
  };
  return {
    prepared: {
      featureNames: Array.from({ length: spec.maxLength }, (_, i) => `t${i}`),
      train: encoded(0, trainRows),
      validation: encoded(trainRows, texts.length),
      tokenizer: tokenizer.toJSON(),
      labels: [...classes.labels.names],
    },
    bad: [...bad, ...classes.skipped],
    labelSet: classes.labels,
  };
}
