/**
 * Turns raw texts or table rows into the input of a model saved by Adamant, and its outputs into
 * labels, from the `adamant` block that `adamant train` writes into model.json's
 * `userDefinedMetadata`. Its compiled form imports nothing, on purpose: it runs as it is in a
 * browser or in Node, and every saved model directory holds a copy (preprocess.js) beside
 * model.json. Its tokenizer and padding equal core's `Tokenizer.textToSequence` + `padSequence`,
 * and its scaling equals core's `applyNormalization`, value for value (preprocess.test.ts).
 */

import type { Decoded, ExportedOutputs, ExportedTokenizer, HeadKind, ModelInput, TablePreprocessing, TableRow, TextPreprocessing } from './exportFormat.js';
export type { AdamantExport, Decoded, ExportedOutputs, ExportedTokenizer, HeadKind, ModelInput, TablePreprocessing, TableRow, TextPreprocessing } from './exportFormat.js';

/** The version of the `adamant` block this module reads and core writes. */
export const EXPORT_VERSION = 1;

/** E_MODEL: the metadata is missing or malformed; E_DATA: an input does not fit the model. */
export class PreprocessError extends Error {
  override name = 'PreprocessError';
  constructor(
    readonly code: 'E_MODEL' | 'E_DATA',
    message: string,
  ) {
    super(message);
  }
}

// ---- reading the metadata ---------------------------------------------------------------

type Fields = Record<string, unknown>;

const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value for a message: JSON, cut short so the message stays one line. */
function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function bad(field: string, problem: string): never {
  throw new PreprocessError('E_MODEL', `userDefinedMetadata.adamant.${field}: ${problem}`);
}

function fieldsAt(v: unknown, field: string): Fields {
  return isFields(v) ? v : bad(field, `expected an object, got ${show(v)}`);
}

function positiveInt(v: unknown, field: string): number {
  return Number.isInteger(v) && (v as number) > 0 ? (v as number) : bad(field, `expected a positive integer, got ${show(v)}`);
}

function oneOf<T extends string>(v: unknown, options: readonly T[], field: string): T {
  return options.includes(v as T) ? (v as T) : bad(field, `expected one of ${options.join(', ')}, got ${show(v)}`);
}

function distinctStrings(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) bad(field, `expected a list of strings, got ${show(v)}`);
  const seen = new Set<string>();
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') bad(`${field}[${i}]`, `expected a non-empty string, got ${show(s)}`);
    if (seen.has(s)) bad(`${field}[${i}]`, `${show(s)} is listed twice`);
    seen.add(s);
  });
  return v as string[];
}

function finiteNumbers(v: unknown, length: number, field: string): number[] {
  if (!Array.isArray(v) || v.length !== length) bad(field, `expected ${length} numbers, got ${show(v)}`);
  v.forEach((x, i) => {
    if (!Number.isFinite(x)) bad(`${field}[${i}]`, `expected a finite number, got ${show(x)}`);
  });
  return v as number[];
}

function readTokenizer(v: unknown): ExportedTokenizer {
  const at = 'preprocessing.tokenizer';
  const t = fieldsAt(v, at);
  const numWords = positiveInt(t.numWords, `${at}.numWords`);
  const words = distinctStrings(t.words, `${at}.words`);
  if (words.length > numWords - 1) bad(`${at}.words`, `${words.length} words, but numWords ${numWords} allows at most ${numWords - 1}`);
  const oovToken = t.oovToken === null ? null : typeof t.oovToken === 'string' ? t.oovToken : bad(`${at}.oovToken`, `expected a string or null, got ${show(t.oovToken)}`);
  if (oovToken !== null && words[0] !== oovToken) bad(`${at}.words[0]`, `expected the OOV token ${show(oovToken)}, got ${show(words[0])}`);
  if (typeof t.lowercase !== 'boolean') bad(`${at}.lowercase`, `expected true or false, got ${show(t.lowercase)}`);
  if (typeof t.filters !== 'string') bad(`${at}.filters`, `expected a string, got ${show(t.filters)}`);
  return { words, numWords, oovToken, lowercase: t.lowercase, filters: t.filters };
}

function readOutputs(p: Fields): ExportedOutputs {
  const h = fieldsAt(p.head, 'preprocessing.head');
  const kind = oneOf(h.kind, ['sigmoid', 'softmax', 'linear'] as const, 'preprocessing.head.kind');
  const units = positiveInt(h.units, 'preprocessing.head.units');
  if (kind === 'sigmoid' && units !== 1) bad('preprocessing.head.units', `a sigmoid head has 1 unit, got ${units}`);
  if (p.labels === null) return { labels: null, head: { kind, units } };
  const labels = distinctStrings(p.labels, 'preprocessing.labels');
  const classes = kind === 'sigmoid' ? 2 : kind === 'softmax' ? units : 0;
  if (labels.length !== classes) bad('preprocessing.labels', `${labels.length} labels for a ${kind} head of ${units} unit(s), which has ${classes} classes`);
  return { labels, head: { kind, units } };
}

function readPreprocessing(v: unknown): TextPreprocessing | TablePreprocessing {
  const p = fieldsAt(v, 'preprocessing');
  const type = oneOf(p.type, ['text', 'table'] as const, 'preprocessing.type');
  const outputs = readOutputs(p);
  if (type === 'text') {
    return {
      type,
      tokenizer: readTokenizer(p.tokenizer),
      maxLength: positiveInt(p.maxLength, 'preprocessing.maxLength'),
      padding: oneOf(p.padding, ['pre', 'post'] as const, 'preprocessing.padding'),
      truncating: oneOf(p.truncating, ['pre', 'post'] as const, 'preprocessing.truncating'),
      ...outputs,
    };
  }
  const features = distinctStrings(p.features, 'preprocessing.features');
  if (features.length === 0) bad('preprocessing.features', 'expected at least one feature');
  let normalization: TablePreprocessing['normalization'] = null;
  if (p.normalization !== null) {
    const n = fieldsAt(p.normalization, 'preprocessing.normalization');
    const mean = finiteNumbers(n.mean, features.length, 'preprocessing.normalization.mean');
    const std = finiteNumbers(n.std, features.length, 'preprocessing.normalization.std');
    std.forEach((s, i) => {
      if (s === 0) bad(`preprocessing.normalization.std[${i}]`, 'is 0');
    });
    normalization = { mean, std };
  }
  return { type, features, normalization, ...outputs };
}

/**
 * A preprocessor for the model whose metadata this is: `model.getUserDefinedMetadata()` (or a
 * parsed model.json). Throws PreprocessError (E_MODEL) naming the field when it is missing or malformed.
 */
export function fromMetadata(metadata: unknown): Preprocessor {
  const root = isFields(metadata) && isFields(metadata.userDefinedMetadata) ? metadata.userDefinedMetadata : metadata;
  if (!isFields(root) || !isFields(root.adamant)) {
    throw new PreprocessError('E_MODEL', 'userDefinedMetadata: no "adamant" block; was the model saved by adamant train?');
  }
  const { version, preprocessing } = root.adamant;
  if (version !== EXPORT_VERSION) bad('version', `this preprocess.js reads version ${EXPORT_VERSION}, not ${show(version)}`);
  return new Preprocessor(readPreprocessing(preprocessing));
}

// ---- text: Keras's text_to_word_sequence, texts_to_sequences and pad_sequences ------------

/** A character class matching every code point of `filters` (escaped as \u{...}), or null for none. */
function filterPattern(filters: string): RegExp | null {
  const codePoints = new Set<number>();
  for (const ch of filters) codePoints.add(ch.codePointAt(0)!);
  if (codePoints.size === 0) return null;
  const body = [...codePoints].map((c) => `\\u{${c.toString(16)}}`).join('');
  return new RegExp(`[${body}]`, 'gu');
}

/** Optionally lowercase, turn every filter character into a space, split on " " only, drop empty words. */
function splitWords(text: string, lowercase: boolean, filters: RegExp | null): string[] {
  let s = lowercase ? text.toLowerCase() : text;
  if (filters) s = s.replace(filters, ' ');
  return s.split(' ').filter((w) => w !== '');
}

/** Writes exactly `maxLength` values at out[offset...]: too long drops per `truncating`, too short pads zeros per `padding`. */
function padInto(sequence: readonly number[], maxLength: number, padding: 'pre' | 'post', truncating: 'pre' | 'post', out: Float32Array, offset: number): void {
  const length = Math.min(sequence.length, maxLength);
  const from = truncating === 'pre' ? sequence.length - length : 0;
  const at = padding === 'pre' ? offset + maxLength - length : offset;
  for (let i = 0; i < length; i++) out[at + i] = sequence[from + i]!;
}

/** A cell as core's CSV reader reads it: a number, or a numeric string ("" is not). */
function numberOf(cell: unknown): number {
  if (typeof cell === 'number') return cell;
  if (typeof cell === 'string' && cell.trim() !== '') return Number(cell);
  return Number.NaN;
}

/** Reads new inputs the way the model's training data was read, and its outputs as classes. */
export class Preprocessor {
  readonly #spec: TextPreprocessing | TablePreprocessing;
  readonly #index: ReadonlyMap<string, number>;
  readonly #filters: RegExp | null;

  constructor(spec: TextPreprocessing | TablePreprocessing) {
    this.#spec = spec;
    this.#index = new Map(spec.type === 'text' ? spec.tokenizer.words.map((w, i) => [w, i + 1]) : []);
    this.#filters = spec.type === 'text' ? filterPattern(spec.tokenizer.filters) : null;
  }

  /** 'text' (use `texts`) or 'table' (use `rows`). */
  get type(): 'text' | 'table' {
    return this.#spec.type;
  }

  /** Class names in class-index order, or null. */
  get labels(): readonly string[] | null {
    return this.#spec.labels;
  }

  get head(): Readonly<{ kind: HeadKind; units: number }> {
    return this.#spec.head;
  }

  /** One sample's input shape: [maxLength] for text, [features] for a table. */
  get inputShape(): [number] {
    return [this.#spec.type === 'text' ? this.#spec.maxLength : this.#spec.features.length];
  }

  /** Table models: the feature names in the order the model reads them. */
  get features(): readonly string[] {
    return this.#spec.type === 'table' ? this.#spec.features : [];
  }

  /** One text's token ids, before padding: known words by index, unknown ones as the OOV index (1) or dropped without an OOV token. */
  tokenize(text: string): number[] {
    const spec = this.#textSpec('tokenize');
    const oov = spec.tokenizer.oovToken === null ? undefined : 1;
    const ids: number[] = [];
    for (const w of splitWords(text, spec.tokenizer.lowercase, this.#filters)) {
      const id = this.#index.get(w) ?? oov;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  /** Texts to token ids padded to maxLength: shape [texts, maxLength]. */
  texts(texts: readonly string[]): ModelInput {
    const { maxLength, padding, truncating } = this.#textSpec('texts');
    if (!Array.isArray(texts)) throw new PreprocessError('E_DATA', `texts(): expected a list of strings, got ${show(texts)}`);
    const data = new Float32Array(texts.length * maxLength);
    texts.forEach((text, r) => {
      if (typeof text !== 'string') throw new PreprocessError('E_DATA', `texts[${r}]: expected a string, got ${show(text)}`);
      padInto(this.tokenize(text), maxLength, padding, truncating, data, r * maxLength);
    });
    return { data, shape: [texts.length, maxLength] };
  }

  /** Table rows to standardised features in the model's order: shape [rows, features]. */
  rows(rows: readonly TableRow[]): ModelInput {
    const spec = this.#spec;
    if (spec.type !== 'table') throw new PreprocessError('E_DATA', 'rows(): this model reads texts; use texts()');
    if (!Array.isArray(rows)) throw new PreprocessError('E_DATA', `rows(): expected a list of rows, got ${show(rows)}`);
    const { features, normalization } = spec;
    const n = features.length;
    const data = new Float32Array(rows.length * n);
    rows.forEach((row, r) => {
      const positional = Array.isArray(row) || ArrayBuffer.isView(row);
      if (positional && (row as ArrayLike<unknown>).length !== n) {
        throw new PreprocessError('E_DATA', `rows[${r}]: ${(row as ArrayLike<unknown>).length} values, the model reads ${n} (${features.join(', ')})`);
      }
      if (!positional && !isFields(row)) throw new PreprocessError('E_DATA', `rows[${r}]: expected an object or a list of values, got ${show(row)}`);
      for (let f = 0; f < n; f++) {
        const name = features[f]!;
        if (!positional && !Object.hasOwn(row, name)) throw new PreprocessError('E_DATA', `rows[${r}]: no feature ${show(name)}`);
        const cell = positional ? (row as ArrayLike<unknown>)[f] : (row as Fields)[name];
        const value = numberOf(cell);
        if (!Number.isFinite(value)) throw new PreprocessError('E_DATA', `rows[${r}].${name}: ${show(cell)} is not a number`);
        // Core keeps raw features as float32 before scaling them in double; so does this.
        const x = Math.fround(value);
        data[r * n + f] = normalization ? (x - normalization.mean[f]!) / normalization.std[f]! : x;
      }
    });
    return { data, shape: [rows.length, n] };
  }

  /** One sample's outputs (`units` values) as a class. Class 1 of a sigmoid head needs p > 0.5, as core's accuracy counts it. */
  decode(output: ArrayLike<number>): Decoded {
    const { kind, units } = this.#spec.head;
    if (kind === 'linear') throw new PreprocessError('E_DATA', 'decode(): the model has a linear head; its outputs are the predicted values themselves');
    if (output.length !== units) throw new PreprocessError('E_DATA', `decode(): ${output.length} outputs, the model has ${units}`);
    let index = 0;
    let probabilities: number[];
    if (kind === 'sigmoid') {
      const p = output[0]!;
      probabilities = [1 - p, p];
      index = p > 0.5 ? 1 : 0;
    } else {
      probabilities = Array.from(output);
      for (let c = 1; c < units; c++) if (probabilities[c]! > probabilities[index]!) index = c;
    }
    return { label: this.#spec.labels?.[index] ?? String(index), index, probabilities };
  }

  /** A batch's flat outputs ([samples x units], as `model.predict(...).dataSync()` gives them), decoded per sample. */
  decodeAll(outputs: ArrayLike<number>): Decoded[] {
    const { units } = this.#spec.head;
    if (outputs.length % units !== 0) throw new PreprocessError('E_DATA', `decodeAll(): ${outputs.length} outputs is not a multiple of the model's ${units}`);
    return Array.from({ length: outputs.length / units }, (_, i) => this.decode(Array.prototype.slice.call(outputs, i * units, (i + 1) * units) as number[]));
  }

  #textSpec(method: string): TextPreprocessing {
    if (this.#spec.type !== 'text') throw new PreprocessError('E_DATA', `${method}(): this model reads table rows; use rows()`);
    return this.#spec;
  }
}
