import type { TokenizerJSON } from './tokenizer.js';

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
  /** Text: rows skipped as bad (badRows "skip"), with the first few reasons. */
  badRows?: BadRowReport;
}
