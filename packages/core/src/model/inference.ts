import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { DataSpec, JobConfig } from '../config/schema.js';
import type { Dataset, Normalization } from '../data/dataset.js';
import { readNewData } from '../data/prepare.js';
import { Tokenizer } from '../data/tokenizer.js';
import { ModelError } from '../errors.js';
import { sampleShape } from './buildModel.js';
import { METADATA_JSON, readSavedMetadata } from './metadata.js';
import { loadModel } from './modelio.js';

/** A model saved by Adamant, with what it needs to read new data the way it read its training data. */
export interface SavedModel {
  /** The directory it was loaded from, named in messages. */
  dir: string;
  model: tf.LayersModel;
  config: JobConfig;
  /** One sample's input shape: [maxLength] token ids, [features], or a first recurrent layer's [timesteps, features]. */
  inputShape: number[];
  /** The head's outputs per sample. */
  outputs: number;
  tokenizer?: Tokenizer;
  normalization?: Normalization;
  /** Classifiers: class k is labels[k]. */
  labels?: string[];
}

/** Values per sample in the data a model reads: a text's padded length, or a table's feature count. */
const featureCountOf = (data: DataSpec): number => (data.type === 'text' ? data.maxLength : data.features.length);

/** Loads a model directory written by `adamant train` (model.json, weights.bin, adamant.json). */
export async function loadSavedModel(dir: string): Promise<SavedModel> {
  const meta = readSavedMetadata(dir);
  if (!meta) throw new ModelError(`${path.join(dir, METADATA_JSON)}: missing or not written by Adamant; evaluate and predict need it`);
  const model = await loadModel(dir);
  const outputs = model.outputs[0]?.shape.at(-1) ?? 1;
  return {
    dir,
    model,
    config: meta.config,
    inputShape: sampleShape(meta.config.model, featureCountOf(meta.config.data)),
    outputs,
    ...(meta.tokenizer ? { tokenizer: Tokenizer.fromJSON(meta.tokenizer) } : {}),
    ...(meta.normalization ? { normalization: meta.normalization } : {}),
    ...(meta.labels ? { labels: meta.labels } : {}),
  };
}

/**
 * Reads a data file the way the saved model's training data was read (same columns or fields,
 * tokenizer, scaling, label set: a label outside it fails, or is skipped with data.unknownLabels "skip").
 */
export function readDataFor(saved: Pick<SavedModel, 'config' | 'tokenizer' | 'normalization' | 'labels'>, file: string): { data: Dataset; skipped: string[] } {
  const { config, tokenizer, normalization, labels } = saved;
  return readNewData(
    { ...config, data: { ...config.data, path: file } },
    { ...(tokenizer ? { tokenizer: tokenizer.toJSON() } : {}), ...(normalization ? { normalization } : {}), ...(labels ? { labels } : {}) },
  );
}
