import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { BINARY_METRICS, CLASSIFICATION_LOSSES, isClassificationLoss, LAYER_TYPES, OPTIMIZER_NAMES } from './names.js';
import { isKeyedOptimizer } from './optimizer.js';
import { jobConfigSchema, type JobConfig } from './schema.js';

/** The chunk size a job actually uses. */
export function chunkSizeOf(config: Pick<JobConfig, 'batchSize' | 'chunkSize'>): number {
  return Math.min(config.chunkSize ?? Math.ceil(config.batchSize / 4), config.batchSize);
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${String(s)}` : String(s);
  return out || '(top level)';
}

const valueAt = (input: unknown, at: readonly PropertyKey[]): unknown => at.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], input);

/**
 * Where an issue sits, as the user wrote it: an issue inside a keyed optimizer block
 * (`"optimizer": { "adam": {...} }`) is reported at `optimizer.adam...`, not at the parsed form.
 */
function userPath(issue: z.core.$ZodIssue, input: unknown): readonly PropertyKey[] {
  const raw = valueAt(input, ['optimizer']);
  if (issue.path[0] !== 'optimizer' || issue.code === 'custom' || !isKeyedOptimizer(raw)) return issue.path;
  const name = Object.keys(raw)[0] ?? OPTIMIZER_NAMES[0];
  return ['optimizer', name, ...issue.path.slice(1)];
}

/** One schema issue as one line: "model[1].units: Too small: ...". `input` is what was parsed. */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(userPath(issue, input));
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator === 'type') {
    const got = JSON.stringify(valueAt(input, issue.path));
    const owner = issue.path.at(-3) === 'model' ? 'layer type' : issue.path.at(-2) === 'optimizer' ? 'optimizer' : where;
    const options = owner === 'layer type' ? LAYER_TYPES : ((issue as { options?: unknown[] }).options ?? ['the documented values']);
    return `${where}: unknown ${owner} ${got}; expected one of ${options.join(', ')}`;
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

/** The checks across fields that the schema cannot make (layer order, head against loss and metrics, loss against data); throws ConfigError. */
export function checkModelShape(config: JobConfig, source: string): void {
  const fail = (message: string): never => {
    throw new ConfigError(`${source}: ${message}`);
  };
  const first = config.model[0];
  if (first && (first.type === 'dropout' || first.type === 'globalAveragePooling1d' || first.type === 'globalMaxPooling1d')) {
    fail(`model[0]: a model cannot start with ${first.type}`);
  }
  config.model.forEach((layer, i) => {
    if (i > 0 && 'inputShape' in layer && layer.inputShape) fail(`model[${i}].inputShape: only the first layer takes an inputShape`);
    if (i > 0 && layer.type === 'embedding') fail(`model[${i}]: an embedding must be the first layer`);
    if (layer.type === 'gru' && layer.resetAfter) fail(`model[${i}].resetAfter: tfjs's GRU applies the reset gate before the recurrent matMul only; set resetAfter false`);
    if (layer.type === 'bidirectional' && layer.layer.type === 'gru' && layer.layer.resetAfter) {
      fail(`model[${i}].layer.resetAfter: tfjs's GRU applies the reset gate before the recurrent matMul only; set resetAfter false`);
    }
  });
  if (first?.type === 'dense' && first.inputShape && first.inputShape.length !== 1) {
    fail(`model[0].inputShape: a first dense layer reads one row of features, [features]; got [${first.inputShape}]`);
  }
  checkSequenceFlow(config.model, fail);
  if (config.data.type === 'text' && first?.type === 'embedding' && first.inputDim < config.data.tokenizer.numWords) {
    fail(`model[0].inputDim is ${first.inputDim}, but data.tokenizer.numWords ${config.data.tokenizer.numWords} yields token ids up to ${config.data.tokenizer.numWords - 1}`);
  }
  if (config.data.type === 'text' && !isClassificationLoss(config.loss)) {
    fail(`loss: text data has class labels; use one of ${CLASSIFICATION_LOSSES.join(', ')}, not ${config.loss}`);
  }
  checkHead(config, fail);
  checkTrainingOptions(config, fail);
}

/** The Keras-style training fields against the rest of the job: validation, class weights, the monitored name. */
function checkTrainingOptions(config: JobConfig, fail: (message: string) => never): void {
  if (config.validationData && config.validationSplit > 0) fail('validationData and validationSplit are both set; give one of them');
  if (config.classWeight !== undefined && !isClassificationLoss(config.loss)) {
    fail(`classWeight: ${config.loss} regresses numbers; class weights need one of ${CLASSIFICATION_LOSSES.join(', ')} (weight samples with data.sampleWeight instead)`);
  }
  const stopping = config.earlyStopping;
  if (stopping) {
    const names = ['loss', ...config.metrics];
    const known = [...names, ...names.map((n) => `val_${n}`)];
    if (!known.includes(stopping.monitor)) fail(`earlyStopping.monitor: unknown name "${stopping.monitor}"; this job logs ${known.join(', ')}`);
    if (stopping.monitor.startsWith('val_') && !config.validationData && config.validationSplit === 0) {
      fail(`earlyStopping.monitor: ${stopping.monitor} needs validation data; set validationSplit or validationData, or monitor "${stopping.monitor.slice(4)}"`);
    }
  }
}

/**
 * Follows what each layer outputs, a sequence of vectors or one vector, and refuses a layer that
 * cannot take its input: recurrent layers and pooling read sequences, dense reads vectors, dropout
 * passes either through, and the model must end in a vector (one prediction per sample).
 */
function checkSequenceFlow(model: JobConfig['model'], fail: (message: string) => never): void {
  const END_SEQUENCE = 'end the sequence with a recurrent layer without returnSequences, or a global pooling layer';
  // What the first layer reads: token ids (embedding) and inputShape [timesteps, features] (recurrent) are sequences.
  let sequence = model[0]?.type !== 'dense';
  let producer = 'the input';
  model.forEach((layer, i) => {
    switch (layer.type) {
      case 'embedding':
        sequence = true;
        break;
      case 'dense':
        if (sequence) fail(`model[${i}]: a dense layer cannot follow a sequence output (${producer}); ${END_SEQUENCE}`);
        break;
      case 'lstm':
      case 'gru':
      case 'bidirectional':
        if (!sequence) fail(`model[${i}]: ${article(layer.type)} needs a sequence input (an embedding, or a recurrent layer with returnSequences), but gets a vector from ${producer}`);
        sequence = layer.type === 'bidirectional' ? layer.layer.returnSequences : layer.returnSequences;
        break;
      case 'globalAveragePooling1d':
      case 'globalMaxPooling1d':
        if (!sequence) fail(`model[${i}]: ${layer.type} needs a sequence input, but gets a vector from ${producer}`);
        sequence = false;
        break;
      case 'dropout':
        return; // passes its input through: the producer stays the layer before it
    }
    producer = layer.type;
  });
  if (sequence) fail(`model[${model.length - 1}]: the model ends in a sequence (${producer}), but must end in one vector per sample; ${END_SEQUENCE}`);
}

/** The head's rules: each classification loss needs its head, a softmax head needs a classification loss, binary metrics need a binary head. */
function checkHead(config: JobConfig, fail: (message: string) => never): void {
  const last = config.model.at(-1);
  const head = last?.type === 'dense' ? last : undefined;
  const binaryHead = head?.units === 1 && head.activation === 'sigmoid';
  if (config.loss === 'binaryCrossentropy' && !binaryHead) fail('loss: binaryCrossentropy needs a last layer of dense, units 1, activation "sigmoid"');
  if ((config.loss === 'sparseCategoricalCrossentropy' || config.loss === 'categoricalCrossentropy') && !(head?.activation === 'softmax' && head.units >= 2)) {
    fail(`loss: ${config.loss} needs a last layer of dense, activation "softmax", units ≥ 2 (one per class)`);
  }
  if (head?.activation === 'softmax' && !isClassificationLoss(config.loss)) {
    fail(`loss: ${config.loss} regresses numbers, but the last layer is a softmax over classes; use sparseCategoricalCrossentropy or categoricalCrossentropy`);
  }
  const binaryMetric = config.metrics.find((m) => (BINARY_METRICS as readonly string[]).includes(m));
  if (binaryMetric && !binaryHead) fail(`metrics: ${binaryMetric} needs a binary head: a last layer of dense, units 1, activation "sigmoid"`);
}

/** "an lstm", "a gru", "a bidirectional": lstm is read letter by letter. */
const article = (type: string): string => `${type === 'lstm' ? 'an' : 'a'} ${type}`;

/** Reads, parses and validates a job config file; `data.path` and `validationData.path` are resolved against the file's folder. */
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
  const folder = path.dirname(path.resolve(file));
  config.data.path = path.resolve(folder, config.data.path);
  if (config.validationData) config.validationData.path = path.resolve(folder, config.validationData.path);
  return config;
}
