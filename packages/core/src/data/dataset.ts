import type { LabelSet } from './labels.js';
import type { TokenizerJSON } from './tokenizer.js';

/** Rows of features and targets, row-major in flat Float32Arrays. */
export interface Dataset {
  rows: number;
  featureCount: number;
  /** rows x featureCount */
  x: Float32Array;
  /** rows (one target per row) */
  y: Float32Array;
  /**
   * rows (one weight per row), when the job weighs its samples (data.sampleWeight, classWeight;
   * weights.ts): each sample's loss is multiplied by its weight. Absent: every row weighs 1.
   */
  w?: Float32Array;
}

/** Per-feature standardisation, fitted on the training split only. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** Rows skipped for being bad: how many, and the first few reasons as "file:line: reason". */
export interface BadRowReport {
  count: number;
  examples: string[];
}

/** A job's data, ready to train on: both splits and the preprocessing fitted on the training one. */
export interface PreparedData {
  /** Names of the input columns (tables) or of the token positions (text). */
  featureNames: string[];
  train: Dataset;
  validation: Dataset;
  /** Tables: standardisation fitted on the training split. */
  normalization?: Normalization;
  /** Text: the tokenizer fitted on the training split, saved with the model. */
  tokenizer?: TokenizerJSON;
  /**
   * Classification: the label set, in class order (y holds the class index k of labels[k]): data.labels,
   * or 0/1 for binary cross-entropy, or the training split's labels sorted. Saved with the model.
   */
  labels?: string[];
  /** Rows left out (text bad rows with badRows "skip", labels outside the set with unknownLabels "skip"), with the first few reasons. */
  badRows?: BadRowReport;
}

/** What a model or checkpoint that continues (or a saved model reading new data) brings: its inputs must mean what they meant. */
export interface SavedPreparation {
  tokenizer?: TokenizerJSON;
  normalization?: Normalization;
  labels?: readonly string[];
}

/**
 * What reading a file takes from the training data beyond a SavedPreparation: the training
 * split's label set itself (a validationData file), so messages say where the set came from.
 */
export interface Preparation extends SavedPreparation {
  labelSet?: LabelSet;
}

/** Prepared data before its bad rows are summed up: `bad` lists every row left out, as "file:line: reason". */
export interface LoadedData {
  prepared: PreparedData;
  bad: string[];
  /** Classifiers: the label set the targets index, with where it came from (for messages about it). */
  labelSet?: LabelSet;
}

/** How many bad-row reasons a BadRowReport keeps. */
const BAD_ROW_EXAMPLES = 5;

export function badRowReport(bad: readonly string[]): BadRowReport {
  return { count: bad.length, examples: bad.slice(0, BAD_ROW_EXAMPLES) };
}
