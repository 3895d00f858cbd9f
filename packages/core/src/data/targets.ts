import { CLASSIFICATION_LOSSES, type LossName } from '../config/names.js';
import type { JobConfig } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import { LabelSet, listLabels, shortLabel } from './labels.js';

/**
 * What a job's targets are, from its loss, and the checks that they fit: regression losses read a
 * number per row; classification losses read a class label per row and train on its class index.
 */

/** regression: a number per row; binary: 0/1 (or two listed names); classes: one class index of several. */
export type TargetKind = 'regression' | 'binary' | 'classes';

export function targetKind(loss: LossName): TargetKind {
  if (loss === 'binaryCrossentropy') return 'binary';
  return (CLASSIFICATION_LOSSES as readonly string[]).includes(loss) ? 'classes' : 'regression';
}

export type TargetConfig = Pick<JobConfig, 'data' | 'loss' | 'model'>;

/** The rules between the loss and the data block, checked before any data is read. */
export function checkTargetConfig(config: TargetConfig): void {
  const { data, loss } = config;
  const kind = targetKind(loss);
  if (kind === 'regression' && data.type === 'text') {
    throw new ConfigError(`loss: ${loss} regresses a number, but text data has class labels; use ${CLASSIFICATION_LOSSES.join(', ')}`);
  }
  if (kind === 'regression' && data.labels) {
    throw new ConfigError(`data.labels: class names need a classification loss (${CLASSIFICATION_LOSSES.join(', ')}), but loss is ${loss}`);
  }
  if (kind === 'binary' && data.labels && data.labels.length !== 2) {
    throw new ConfigError(`data.labels lists ${data.labels.length} labels, but binaryCrossentropy needs exactly two (class 0, then class 1)`);
  }
}

const sameNames = (a: LabelSet, b: LabelSet): boolean => a.size === b.size && a.names.every((name, k) => name === b.names[k]);

/**
 * The label set known before the data is read: data.labels, binary cross-entropy's 0/1, or the
 * set saved with a model (`saved`: evaluate, predict, --init). Undefined for regression, and for
 * a categorical job whose training split decides.
 */
export function knownLabelSet(config: TargetConfig, saved?: readonly string[]): LabelSet | undefined {
  const kind = targetKind(config.loss);
  if (kind === 'regression') return undefined;
  const listed = config.data.labels ? LabelSet.of(config.data.labels, 'listed') : undefined;
  const stored = saved ? LabelSet.of(saved, 'saved', 'the saved labels') : undefined;
  const set = listed ?? (kind === 'binary' ? LabelSet.binary() : stored);
  // The head's outputs mean the classes it was trained on: a continued model keeps their order.
  if (stored && set && !sameNames(set, stored)) {
    throw new ConfigError(`data.labels: the label set ${set} differs from the label set ${stored} saved with the model`);
  }
  return set;
}

/** Where a messages says the label set comes from, and what to do about a label outside it. */
function hintFor(labels: LabelSet): string {
  switch (labels.origin) {
    case 'binary':
      return 'binaryCrossentropy needs 0/1 labels, or two names in data.labels';
    case 'training':
      return 'the label set is the training split\'s: list every class in data.labels, or set data.unknownLabels to "skip"';
    case 'listed':
      return 'add them to data.labels, or set data.unknownLabels to "skip"';
    case 'saved':
      return 'the model was trained on this label set';
  }
}

export interface ClassAssignment {
  labels: LabelSet;
  /** The rows kept, in file order; the first `trainRows` of them form the training split. */
  rows: Uint32Array;
  trainRows: number;
  /** The class index of each kept row: the targets. */
  y: Float32Array;
  /** Rows left out for a label outside the set (unknownLabels "skip"), as "file:line: reason". */
  skipped: string[];
}

export interface AssignOptions {
  file: string;
  validationSplit: number;
  unknownLabels: 'fail' | 'skip';
  /** The set known beforehand (knownLabelSet); without one, the training split's labels. */
  known: LabelSet | undefined;
  /** The (1-based) line row i starts on. */
  lineOf: (row: number) => number;
  /** A table's target column, named in messages. */
  column?: string;
}

/**
 * Turns each row's label key into its class index and splits off validation (the last
 * `validationSplit` of the rows, as Keras does). With a known set, a row outside it is left out
 * before the split, like a bad row; otherwise the set is the training split's, so only
 * validation rows can fall outside it. A row outside the set fails the read (with the count and
 * the first file:line) unless unknownLabels is "skip".
 */
export function assignClasses(keys: readonly string[], options: AssignOptions): ClassAssignment {
  const { file, validationSplit, known } = options;
  const n = keys.length;
  const splitAt = (rows: number): number => Math.floor(rows * (1 - validationSplit));
  const noTraining = () => new DataError(`${file}: validationSplit ${validationSplit} leaves no training rows`);
  if (!known && splitAt(n) === 0) throw noTraining();
  const labels = known ?? LabelSet.fromTraining(keys.slice(0, splitAt(n)));
  const rows = new Uint32Array(n);
  const y = new Float32Array(n);
  const outside: number[] = [];
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const k = labels.classOf(keys[i]!);
    if (k === undefined) {
      outside.push(i);
      continue;
    }
    rows[kept] = i;
    y[kept++] = k;
  }
  const label = (i: number): string => `label ${JSON.stringify(shortLabel(keys[i]!))}`;
  const column = options.column === undefined ? '' : ` column ${JSON.stringify(options.column)}`;
  const first = (): string => `first: ${file}:${options.lineOf(outside[0]!)}${column} ${label(outside[0]!)}`;
  if (outside.length > 0 && options.unknownLabels === 'fail') {
    const count = outside.length === 1 ? '1 row has a label' : `${outside.length} rows have labels`;
    throw new DataError(`${count} outside the label set ${labels}; ${first()}; ${hintFor(labels)}`);
  }
  if (kept === 0) {
    const hint = labels.origin === 'binary' ? `; ${hintFor(labels)}` : '';
    throw new DataError(`${file}: all ${n} rows have labels outside the label set ${labels} (unknownLabels "skip" leaves none); ${first()}${hint}`);
  }
  const trainRows = known ? splitAt(kept) : splitAt(n);
  if (trainRows === 0) throw noTraining();
  return {
    labels,
    rows: rows.slice(0, kept),
    trainRows,
    y: y.slice(0, kept),
    skipped: outside.map((i) => `${file}:${options.lineOf(i)}:${column && `${column}:`} ${label(i)} is outside the label set ${labels}`),
  };
}

/** A categorical head needs one unit per class. (Binary and regression heads are one unit: the config rules check those.) */
export function checkHeadWidth(config: Pick<JobConfig, 'loss' | 'model'>, labels: LabelSet): void {
  if (targetKind(config.loss) !== 'classes') return;
  const i = config.model.length - 1;
  const head = config.model[i];
  if (head?.type !== 'dense' || head.units === labels.size) return;
  const source = labels.origin === 'listed' ? 'data.labels lists' : labels.origin === 'saved' ? 'the saved model has' : 'the training data has';
  throw new ConfigError(`model[${i}].units is ${head.units}, but ${source} ${labels.size} labels (${listLabels(labels.names)})`);
}
