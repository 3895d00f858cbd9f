import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { JobConfig } from '../config/schema.js';
import type { Dataset, Normalization } from '../data/dataset.js';
import { readNewData } from '../data/prepare.js';
import { padSequence, Tokenizer } from '../data/tokenizer.js';
import { DataError, ModelError } from '../errors.js';
import { evaluateSums, meansOf } from './losses.js';
import { METADATA_JSON, readSavedMetadata } from './metadata.js';
import { loadModel } from './modelio.js';

/** A model saved by Adamant, with what it needs to read new data the way it read its training data. */
export interface SavedModel {
  model: tf.LayersModel;
  config: JobConfig;
  tokenizer?: Tokenizer;
  normalization?: Normalization;
  /** Classifiers: class k is labels[k]. */
  labels?: string[];
}

/** Loads a model directory written by `adamant train` (model.json, weights.bin, adamant.json). */
export async function loadSavedModel(dir: string): Promise<SavedModel> {
  const meta = readSavedMetadata(dir);
  if (!meta) throw new ModelError(`${path.join(dir, METADATA_JSON)}: missing or not written by Adamant; evaluate and predict need it`);
  const model = await loadModel(dir);
  return {
    model,
    config: meta.config,
    ...(meta.tokenizer ? { tokenizer: Tokenizer.fromJSON(meta.tokenizer) } : {}),
    ...(meta.normalization ? { normalization: meta.normalization } : {}),
    ...(meta.labels ? { labels: meta.labels } : {}),
  };
}

/**
 * Reads a data file the way the saved model's training data was read (same columns or fields,
 * tokenizer, scaling, label set: a label outside it fails, or is skipped with data.unknownLabels "skip").
 */
export function readDataFor(saved: SavedModel, file: string): { data: Dataset; skipped: string[] } {
  const { config, tokenizer, normalization, labels } = saved;
  return readNewData(
    { ...config, data: { ...config.data, path: file } },
    { ...(tokenizer ? { tokenizer: tokenizer.toJSON() } : {}), ...(normalization ? { normalization } : {}), ...(labels ? { labels } : {}) },
  );
}

export interface Evaluation {
  samples: number;
  loss: number;
  metrics: Record<string, number>;
  skipped: number;
}

/** Loss and metrics of a saved model on a data file. */
export function evaluateSaved(saved: SavedModel, file: string): Evaluation {
  const { data, skipped } = readDataFor(saved, file);
  if (data.rows === 0) throw new DataError(`${file}: no rows to evaluate`);
  const x = tf.tensor(data.x, [data.rows, data.featureCount]);
  const y = tf.tensor(data.y, [data.rows, 1]);
  try {
    const { metrics, loss } = saved.config;
    const sums = evaluateSums(saved.model, loss, metrics, x, y);
    return { samples: sums.samples, ...meansOf(sums, metrics), skipped: skipped.length };
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** The model's output (a probability for a sigmoid head) for each text. */
export function predictTexts(saved: SavedModel, texts: readonly string[]): number[] {
  const spec = saved.config.data;
  if (spec.type !== 'text' || !saved.tokenizer) {
    throw new ModelError('this model was trained on a table, not on texts; use `adamant evaluate` with a CSV');
  }
  const n = spec.maxLength;
  const ids = new Float32Array(texts.length * n);
  texts.forEach((text, r) => {
    padSequence(saved.tokenizer!.textToSequence(text), n, spec.padding, spec.truncating, ids, r * n);
  });
  return tf.tidy(() => Array.from((saved.model.predict(tf.tensor2d(ids, [texts.length, n])) as tf.Tensor).dataSync()));
}
