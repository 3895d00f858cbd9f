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
});

// A data block without `type` is a numeric table, the original format.
const dataSpec = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { ...v, type: 'table' } : v),
  z.discriminatedUnion('type', [tableData, textData]),
);

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
  backend: z.enum(BACKEND_NAMES).default('auto'),
  data: dataSpec,
});

export type JobConfig = z.infer<typeof jobConfigSchema>;
export type LayerSpec = z.infer<typeof layerSpecSchema>;
export type DataSpec = JobConfig['data'];
export type TableDataSpec = Extract<DataSpec, { type: 'table' }>;
export type TextDataSpec = Extract<DataSpec, { type: 'text' }>;
export type TokenizerSpec = TextDataSpec['tokenizer'];
export type RecurrentLayerSpec = Extract<LayerSpec, { type: 'lstm' | 'gru' }>;
export type BidirectionalLayerSpec = Extract<LayerSpec, { type: 'bidirectional' }>;

