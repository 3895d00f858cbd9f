/**
 * The `adamant` block of a saved model's userDefinedMetadata, and what preprocess.ts hands back.
 * Types only, so preprocess.ts still compiles to a file without imports.
 */

/** What the last layer's outputs are: a probability of class 1, a distribution over classes, or values. */
export type HeadKind = 'sigmoid' | 'softmax' | 'linear';

/** Keras `Tokenizer` settings and its words in index order (words[0] has index 1). */
export interface ExportedTokenizer {
  words: string[];
  numWords: number;
  oovToken: string | null;
  lowercase: boolean;
  filters: string;
}

export interface ExportedOutputs {
  /** Class names in class-index order, for a classifier; null when the classes have no names or the model regresses. */
  labels: string[] | null;
  head: { kind: HeadKind; units: number };
}

export interface TextPreprocessing extends ExportedOutputs {
  type: 'text';
  tokenizer: ExportedTokenizer;
  maxLength: number;
  padding: 'pre' | 'post';
  truncating: 'pre' | 'post';
}

export interface TablePreprocessing extends ExportedOutputs {
  type: 'table';
  /** Feature names in the order the model reads them. */
  features: string[];
  normalization: { mean: number[]; std: number[] } | null;
}

/** The `adamant` block of model.json's userDefinedMetadata. */
export interface AdamantExport {
  /** EXPORT_VERSION in preprocess.ts. */
  version: 1;
  /** One sample's input: `shape` without the batch dimension. */
  input: { shape: number[]; dtype: 'float32' };
  preprocessing: TextPreprocessing | TablePreprocessing;
}

/** A batch ready for `tf.tensor(data, shape)`. */
export interface ModelInput {
  data: Float32Array;
  shape: [number, number];
}

/** One sample's output read as a class: its name (or its index as a string), its index, and each class's probability. */
export interface Decoded {
  label: string;
  index: number;
  probabilities: number[];
}

/** A table row: an object keyed by feature name, or the values in feature order. Numbers or numeric strings. */
export type TableRow = Readonly<Record<string, unknown>> | ArrayLike<unknown>;
