import { z } from 'zod';
import { ACTIVATION_NAMES, BACKEND_NAMES, LOSS_NAMES, MERGE_MODES, METRIC_NAMES, type LayerType } from './names.js';
import { optimizerSpecSchema } from './optimizer.js';

/**
 * The job config: one JSON file that says what to train, on what data, and how.
 * Field names follow Keras (units, activation, returnSequences, inputShape) so that a Keras
 * model reads across almost word for word. docs/configuration.md documents every field.
 */

const positiveInt = z.int().positive();

const activation = z.enum(ACTIVATION_NAMES);

const denseLayer = z.strictObject({
  type: z.literal('dense'),
  units: positiveInt,
  activation: activation.default('linear'),
  useBias: z.boolean().default(true),
  inputShape: z.array(positiveInt).min(1).optional(),
});

const embeddingLayer = z.strictObject({
  type: z.literal('embedding'),
  inputDim: positiveInt,
  outputDim: positiveInt,
  inputLength: positiveInt.optional(),
});

const lstmLayer = z.strictObject({
  type: z.literal('lstm'),
  units: positiveInt,
  returnSequences: z.boolean().default(false),
  activation: activation.default('tanh'),
  recurrentActivation: activation.default('sigmoid'),
  inputShape: z.array(positiveInt).length(2).optional(),
});

const gruLayer = z.strictObject({
  type: z.literal('gru'),
  units: positiveInt,
  returnSequences: z.boolean().default(false),
  activation: activation.default('tanh'),
  recurrentActivation: activation.default('sigmoid'),
  /**
   * Apply the reset gate after the recurrent matMul (Keras's default since 2.0, and cuDNN's),
   * or before it (tfjs's GRU, the only one stock tfjs-layers implements: its GRUCell throws on
   * resetAfter true, so checkModelShape refuses true and the default is false).
   */
  resetAfter: z.boolean().default(false),
  inputShape: z.array(positiveInt).length(2).optional(),
});

/** The recurrent layer a bidirectional layer wraps: an lstm or gru without an inputShape of its own. */
const wrappedRecurrentLayer = z.discriminatedUnion('type', [lstmLayer.omit({ inputShape: true }), gruLayer.omit({ inputShape: true })]);

const bidirectionalLayer = z.strictObject({
  type: z.literal('bidirectional'),
  layer: wrappedRecurrentLayer,
  /** How the forward and backward outputs combine (Keras `merge_mode`). */
  mergeMode: z.enum(MERGE_MODES).default('concat'),
  inputShape: z.array(positiveInt).length(2).optional(),
});

const dropoutLayer = z.strictObject({
  type: z.literal('dropout'),
  rate: z.number().min(0).lt(1),
});

const globalAveragePooling1dLayer = z.strictObject({ type: z.literal('globalAveragePooling1d') });
const globalMaxPooling1dLayer = z.strictObject({ type: z.literal('globalMaxPooling1d') });

export const layerSpecSchema = z.discriminatedUnion('type', [
  denseLayer,
  embeddingLayer,
  lstmLayer,
  gruLayer,
  bidirectionalLayer,
  dropoutLayer,
  globalAveragePooling1dLayer,
  globalMaxPooling1dLayer,
]);

// Compile-time check: LAYER_TYPES (names.ts) lists exactly the union's members.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const layerTypesMatch: Same<LayerType, z.infer<typeof layerSpecSchema>['type']> = true;
void layerTypesMatch;

/**
 * The class names of a classification target, in class-index order (class k is labels[k]).
 * Optional: by default the set is taken from the training split. Written as strings or integers.
 */
const labelList = z
  .array(z.union([z.string().min(1), z.int()]))
  .min(2)
  .refine((labels) => new Set(labels.map(String)).size === labels.length, 'labels must be distinct');

/** What to do with a row whose class label is outside the label set: stop with the count and the first file:line, or leave it out (and report it). */
const unknownLabels = z.enum(['fail', 'skip']).default('fail');

/**
 * A column (table) or field (text) holding each sample's weight, a finite number ≥ 0: Keras's
 * `sample_weight`. The sample's loss is multiplied by it and the batch loss is the weighted sum
 * over the batch size, so a weight of 0 removes a sample and 2 counts it twice.
 */
const sampleWeightColumn = z.string().min(1).optional();

const tableData = z.strictObject({
  type: z.literal('table'),
  format: z.literal('csv').default('csv'),
  path: z.string().min(1),
  features: z.array(z.string().min(1)).min(1),
  target: z.string().min(1),
  /** Standardise each feature with the mean and deviation of the training split. */
  normalize: z.boolean().default(true),
  labels: labelList.optional(),
  unknownLabels,
  sampleWeight: sampleWeightColumn,
});

/** Keras `Tokenizer`'s default filters: punctuation, tab and newline become separators. */
export const KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

export const tokenizerSpecSchema = z.strictObject({
  /** Keep the numWords - 1 most frequent words (index 0 is padding), like Keras `num_words`. */
  numWords: z.int().min(2),
  /** Token for words outside the vocabulary (index 1); null drops them, like Keras. */
  oovToken: z.string().min(1).nullable().default('<OOV>'),
  lowercase: z.boolean().default(true),
  filters: z.string().default(KERAS_FILTERS),
});

const textData = z.strictObject({
  type: z.literal('text'),
  /** csv (with a header row) or jsonl (one JSON object per line); default: from the file extension. */
  format: z.enum(['csv', 'jsonl']).optional(),
  path: z.string().min(1),
  textField: z.string().min(1).default('text'),
  labelField: z.string().min(1).default('label'),
  tokenizer: tokenizerSpecSchema,
  /** Sequences are padded or truncated to this length, like Keras `pad_sequences(maxlen=...)`. */
  maxLength: z.int().positive(),
  padding: z.enum(['pre', 'post']).default('pre'),
  truncating: z.enum(['pre', 'post']).default('pre'),
  /** What to do with a row whose text or label is missing: skip it (and report) or stop. */
  badRows: z.enum(['skip', 'fail']).default('skip'),
  labels: labelList.optional(),
  unknownLabels,
  sampleWeight: sampleWeightColumn,
});

// A data block without `type` is a numeric table, the original format.
const dataSpec = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { ...v, type: 'table' } : v),
  z.discriminatedUnion('type', [tableData, textData]),
);

/**
 * Keras `class_weight`: a weight per class, keyed by the class label as the data writes it (for
 * 0/1 targets "0" and "1"); classes left out weigh 1. "balanced" computes scikit-learn's
 * n_samples / (n_classes * count(class)) on the training split. Multiplies data.sampleWeight.
 * Training only: validation losses are never class-weighted, as in Keras.
 */
const classWeight = z.union([z.literal('balanced'), z.record(z.string().min(1), z.number().min(0).refine(Number.isFinite, 'must be finite'))]);

/** Keras's metric names in training logs: loss, val_loss, accuracy, val_accuracy, ... (checked against the job's metrics in parse.ts). */
const monitorName = z.string().regex(/^(val_)?[a-z_]+$/, 'expected a Keras log name such as loss, val_loss or val_accuracy');

/** Keras `EarlyStopping`, same names and meaning (camelCase). */
const earlyStopping = z.strictObject({
  monitor: monitorName.default('val_loss'),
  /** min: lower is better; max: higher is better; auto: max for accuracy, auc, precision and recall, min otherwise. */
  mode: z.enum(['auto', 'min', 'max']).default('auto'),
  /** Epochs without improvement after which training stops. */
  patience: z.int().min(0).default(0),
  /** The least change that counts as an improvement. */
  minDelta: z.number().min(0).default(0),
  /** When it stops, restore the weights of the best epoch (then the saved model is the best one). */
  restoreBestWeights: z.boolean().default(false),
  /** Epochs to train before any improvement is looked for (a warm-up). */
  startFromEpoch: z.int().min(0).default(0),
  /** Stop if the monitored value is not better than this (optional, as Keras's `baseline`). */
  baseline: z.number().optional(),
});

/** A validation file read like the training data: its columns or fields, the training split's vocabulary, normalisation and labels. */
const validationData = z.strictObject({
  path: z.string().min(1),
  /** csv or jsonl; default: the training data's, or from the file extension. */
  format: z.enum(['csv', 'jsonl']).optional(),
});

export const jobConfigSchema = z.strictObject({
  model: z.array(layerSpecSchema).min(1),
  loss: z.enum(LOSS_NAMES),
  metrics: z.array(z.enum(METRIC_NAMES)).default([]),
  /** `{ "adam": { ... } }` in a config file; parsed to `{ type: 'adam', ... }` (config/optimizer.ts). */
  optimizer: optimizerSpecSchema,
  batchSize: positiveInt.default(32),
  /**
   * Samples per chunk: the unit of work a worker computes and the unit in which gradients are
   * summed (in chunk order). Results depend on it, never on the number of workers.
   * Default: a quarter of the batch, rounded up.
   */
  chunkSize: positiveInt.optional(),
  epochs: z.int().min(0).default(1),
  seed: z.int().min(0).max(0xffffffff).default(0),
  shuffle: z.boolean().default(true),
  validationSplit: z.number().min(0).lt(1).default(0),
  /** A separate validation file (instead of validationSplit). */
  validationData: validationData.optional(),
  classWeight: classWeight.optional(),
  earlyStopping: earlyStopping.optional(),
  backend: z.enum(BACKEND_NAMES).default('auto'),
  data: dataSpec,
});

export type JobConfig = z.infer<typeof jobConfigSchema>;
export type LayerSpec = z.infer<typeof layerSpecSchema>;
export type EarlyStoppingSpec = z.infer<typeof earlyStopping>;
export type ClassWeightSpec = z.infer<typeof classWeight>;
export type ValidationDataSpec = z.infer<typeof validationData>;
export type DataSpec = JobConfig['data'];
export type TableDataSpec = Extract<DataSpec, { type: 'table' }>;
export type TextDataSpec = Extract<DataSpec, { type: 'text' }>;
export type TokenizerSpec = TextDataSpec['tokenizer'];
export type RecurrentLayerSpec = Extract<LayerSpec, { type: 'lstm' | 'gru' }>;
export type BidirectionalLayerSpec = Extract<LayerSpec, { type: 'bidirectional' }>;

