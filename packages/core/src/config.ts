import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The job config: one JSON file that says what to train, on what data, and how.
 * Field names follow Keras (units, activation, returnSequences, inputShape) so that a Keras
 * model reads across almost word for word. docs/configuration.md documents every field.
 */

const positiveInt = z.int().positive();

const activation = z.enum(['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus']);

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

const dropoutLayer = z.strictObject({
  type: z.literal('dropout'),
  rate: z.number().min(0).lt(1),
});

export const layerTypes = ['dense', 'embedding', 'lstm', 'dropout'] as const;

export const layerSpecSchema = z.discriminatedUnion('type', [denseLayer, embeddingLayer, lstmLayer, dropoutLayer]);

const adamSpec = z.strictObject({
  learningRate: z.number().positive().default(0.001),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  /** tf.train.adam's default: the float32 backend epsilon. */
  epsilon: z.number().positive().default(1e-7),
  /** Use `lr * m_hat / sqrt(v_hat + eps)` (as in many Adam tutorials) instead of `/ (sqrt(v_hat) + eps)`. */
  epsilonInsideSqrt: z.boolean().default(false),
  /**
   * Update an embedding's Adam moments only for the rows a step touched ("lazy Adam"). Faster
   * for large vocabularies, but no longer equal to single-process training: untouched rows'
   * moments do not decay. Off by default.
   */
  lazyEmbedding: z.boolean().default(false),
});

const tableData = z.strictObject({
  type: z.literal('table'),
  format: z.literal('csv').default('csv'),
  path: z.string().min(1),
  features: z.array(z.string().min(1)).min(1),
  target: z.string().min(1),
  /** Standardise each feature with the mean and deviation of the training split. */
  normalize: z.boolean().default(true),
});

/** Keras `Tokenizer`'s default filters: punctuation, tab and newline become separators. */
export const KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

const tokenizerSpec = z.strictObject({
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
  tokenizer: tokenizerSpec,
  /** Sequences are padded or truncated to this length, like Keras `pad_sequences(maxlen=...)`. */
  maxLength: z.int().positive(),
  padding: z.enum(['pre', 'post']).default('pre'),
  truncating: z.enum(['pre', 'post']).default('pre'),
  /** What to do with a row whose text is missing or whose label is not 0/1: skip it (and report) or stop. */
  badRows: z.enum(['skip', 'fail']).default('skip'),
});

// A data block without `type` is a numeric table, the original format.
const dataSpec = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { ...v, type: 'table' } : v),
  z.discriminatedUnion('type', [tableData, textData]),
);

export const jobConfigSchema = z.strictObject({
  model: z.array(layerSpecSchema).min(1),
  loss: z.enum(['meanSquaredError', 'binaryCrossentropy']),
  metrics: z.array(z.enum(['accuracy', 'mae'])).default([]),
  // Function defaults: each config gets its own objects, never one shared default.
  optimizer: z.strictObject({ adam: adamSpec.default(() => adamSpec.parse({})) }).default(() => ({ adam: adamSpec.parse({}) })),
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
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  data: dataSpec,
});

export type JobConfig = z.infer<typeof jobConfigSchema>;
export type LayerSpec = z.infer<typeof layerSpecSchema>;
export type AdamConfig = z.infer<typeof adamSpec>;
export type LossName = JobConfig['loss'];
export type MetricName = JobConfig['metrics'][number];
export type BackendName = JobConfig['backend'];
export type DataSpec = JobConfig['data'];
export type TableDataSpec = Extract<DataSpec, { type: 'table' }>;
export type TextDataSpec = Extract<DataSpec, { type: 'text' }>;
export type TokenizerSpec = TextDataSpec['tokenizer'];

/** The chunk size a job actually uses. */
export function chunkSizeOf(config: Pick<JobConfig, 'batchSize' | 'chunkSize'>): number {
  return Math.min(config.chunkSize ?? Math.ceil(config.batchSize / 4), config.batchSize);
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${String(s)}` : String(s);
  return out || '(top level)';
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator === 'type') {
    const got = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], input);
    if (issue.path[0] === 'model') return `${where}: unknown layer type ${JSON.stringify(got)}; expected one of ${layerTypes.join(', ')}`;
    return `${where}: unknown ${where} ${JSON.stringify(got)}; expected one of ${(issue as { options?: unknown[] }).options?.join(', ') ?? 'the documented values'}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** Validates a parsed config object; `source` names it in errors (usually the file path). */
export function parseJobConfig(input: unknown, source: string): JobConfig {
  const result = jobConfigSchema.safeParse(input);
  if (!result.success) {
    const first = result.error.issues[0];
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new ConfigError(`${source}: ${first ? describeIssue(first, input) : 'invalid config'}${more}`);
  }
  const config = result.data;
  checkModelShape(config, source);
  return config;
}

function checkModelShape(config: JobConfig, source: string): void {
  const first = config.model[0];
  if (first?.type === 'dropout') throw new ConfigError(`${source}: model[0]: a model cannot start with dropout`);
  config.model.forEach((layer, i) => {
    if (i > 0 && 'inputShape' in layer && layer.inputShape) {
      throw new ConfigError(`${source}: model[${i}].inputShape: only the first layer takes an inputShape`);
    }
    if (i > 0 && layer.type === 'embedding') {
      throw new ConfigError(`${source}: model[${i}]: an embedding must be the first layer`);
    }
  });
  if (config.data.type === 'text' && first?.type === 'embedding' && first.inputDim < config.data.tokenizer.numWords) {
    throw new ConfigError(`${source}: model[0].inputDim is ${first.inputDim}, but data.tokenizer.numWords ${config.data.tokenizer.numWords} yields token ids up to ${config.data.tokenizer.numWords - 1}`);
  }
  if (config.data.type === 'text' && config.loss !== 'binaryCrossentropy') {
    throw new ConfigError(`${source}: loss: text data has 0/1 labels; use binaryCrossentropy`);
  }
  let sequence = first?.type === 'embedding' || (first?.type === 'lstm' && first.returnSequences);
  config.model.forEach((layer, i) => {
    if (i === 0) return;
    if (layer.type === 'dense' && sequence) {
      throw new ConfigError(`${source}: model[${i}]: a dense layer cannot follow a sequence output (${config.model[i - 1]!.type}); end the sequence with an lstm without returnSequences`);
    }
    if (layer.type === 'lstm') {
      if (!sequence) throw new ConfigError(`${source}: model[${i}]: an lstm needs a sequence input (an embedding or an lstm with returnSequences)`);
      sequence = layer.returnSequences;
    }
  });
  const last = config.model.at(-1);
  if (config.loss === 'binaryCrossentropy' && !(last?.type === 'dense' && last.units === 1 && last.activation === 'sigmoid')) {
    throw new ConfigError(`${source}: loss: binaryCrossentropy needs a last layer of dense, units 1, activation "sigmoid"`);
  }
}

/** Reads, parses and validates a job config file; `data.path` is resolved against the file's folder. */
export function loadJobConfig(file: string): JobConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`${file}: cannot read config: ${reason}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const config = parseJobConfig(raw, file);
  config.data.path = path.resolve(path.dirname(path.resolve(file)), config.data.path);
  return config;
}
