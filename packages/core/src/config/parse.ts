import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { LAYER_TYPES, OPTIMIZER_NAMES } from './names.js';
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

/** The checks across fields that the schema cannot make (layer order, loss against data); throws ConfigError. */
export function checkModelShape(config: JobConfig, source: string): void {
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
