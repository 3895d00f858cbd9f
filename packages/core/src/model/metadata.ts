import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { checkModelShape, describeIssue } from '../config/parse.js';
import { jobConfigSchema, tokenizerSpecSchema } from '../config/schema.js';
import type { Normalization } from '../data/dataset.js';
import { Tokenizer, type TokenizerJSON } from '../data/tokenizer.js';
import { ModelError } from '../errors.js';

/** Adamant's own sidecar in a saved model directory: the config, the preprocessing and the training summary. */
export const METADATA_JSON = 'adamant.json';

/**
 * adamant.json, the one schema for writing and reading it. `config` is the parsed job config
 * with the model's resolved layers; `normalization` (tables) and `tokenizer` (text) say how to
 * read new data the way the training data was read, and `labels` (classifiers) what the head's
 * outputs mean; `summary` is the training report, kept as is.
 */
export const savedModelMetadataSchema = z.object({
  adamant: z.literal(1),
  config: jobConfigSchema,
  featureNames: z.array(z.string()),
  normalization: z.object({ mean: z.array(z.number()), std: z.array(z.number()) }).nullable(),
  // Models saved before text data existed have no tokenizer field.
  tokenizer: z.object({ config: tokenizerSpecSchema, words: z.array(z.string()) }).nullable().default(null),
  // Classifiers: class k is labels[k]. Null for regression, and absent in models saved before labels existed.
  labels: z.array(z.string()).nullable().default(null),
  summary: z.unknown(),
});

export type SavedModelMetadata = z.infer<typeof savedModelMetadataSchema>;

function firstProblem(error: z.ZodError, input: unknown): string {
  const first = error.issues[0];
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return `${first ? describeIssue(first, input) : 'invalid metadata'}${more}`;
}

/** Writes `dir`/adamant.json after checking it against the schema (a failure is a bug: ModelError). */
export function writeMetadata(dir: string, metadata: SavedModelMetadata): void {
  const file = path.join(dir, METADATA_JSON);
  const checked = savedModelMetadataSchema.safeParse(metadata);
  if (!checked.success) throw new ModelError(`${file}: refusing to write metadata: ${firstProblem(checked.error, metadata)}`);
  // The given values in a fixed key order; the schema's output would reorder the config's keys.
  const { adamant, config, featureNames, normalization, tokenizer, labels, summary } = metadata;
  writeFileSync(file, `${JSON.stringify({ adamant, config, featureNames, normalization, tokenizer, labels, summary }, null, 2)}\n`);
}

/**
 * Reads and checks `dir`/adamant.json. Undefined when the directory has none (a model not saved
 * by Adamant); a ModelError naming the file and field when it is there but unreadable or wrong,
 * a ConfigError when its config breaks the rules across fields.
 */
export function readSavedMetadata(dir: string): SavedModelMetadata | undefined {
  const file = path.join(dir, METADATA_JSON);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelError(`${file}: cannot read Adamant's metadata: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const parsed = savedModelMetadataSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${file}: not Adamant's metadata: ${firstProblem(parsed.error, raw)}`);
  checkModelShape(parsed.data.config, file);
  return parsed.data;
}

/**
 * The vocabulary saved with a model directory (text jobs), checked, or undefined when the
 * directory has none: `--init` on a text job keeps it.
 */
export function savedTokenizer(dir: string): TokenizerJSON | undefined {
  const json = readSavedMetadata(dir)?.tokenizer;
  return json ? Tokenizer.fromJSON(json).toJSON() : undefined;
}

/**
 * The feature standardisation saved with a model directory (table jobs), or undefined when the
 * directory has none: `--init` on a table job can keep it.
 */
export function savedNormalization(dir: string): Normalization | undefined {
  const json = readSavedMetadata(dir)?.normalization;
  return json ? { mean: [...json.mean], std: [...json.std] } : undefined;
}

/**
 * The label set saved with a model directory (classifiers), or undefined when the directory has
 * none: `--init` keeps it, since the head's outputs mean those classes in that order.
 */
export function savedLabels(dir: string): string[] | undefined {
  return readSavedMetadata(dir)?.labels ?? undefined;
}
