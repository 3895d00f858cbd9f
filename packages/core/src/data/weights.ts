import type { ClassWeightSpec } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { type LabelSet, labelKey, shortLabel } from './labels.js';

/**
 * Keras's sample and class weights. A sample's loss is multiplied by its weight, and a batch's
 * loss is the weighted sum over the batch size (not over the sum of the weights), as Keras and
 * tfjs `model.fit({classWeight})` compute it. The weight of a training sample is
 * data.sampleWeight × classWeight[its class]; validation samples take data.sampleWeight alone
 * (Keras never class-weights validation).
 */

/** A sample weight as a file writes it (a CSV cell, a JSON value): the number, or why it is none ("is negative"). */
export function parseSampleWeight(value: unknown): number | string {
  const shown = JSON.stringify(value) ?? String(value);
  const text = typeof value === 'string' ? value.trim() : undefined;
  const weight = typeof value === 'number' ? value : text !== undefined && text !== '' ? Number(text) : Number.NaN;
  if (Number.isNaN(weight)) return `${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown} is not a number`;
  if (!Number.isFinite(weight)) return `${shown} is not finite`;
  if (weight < 0) return `${shown} is negative`;
  return weight;
}

/** The reason a sample weight is bad, worded for a message that names the file, line and field first. */
export const SAMPLE_WEIGHT_RULE = 'a sample weight is a finite number >= 0';

/**
 * The weight of each class (class k at index k) that classWeight gives: the map's values (a
 * class it leaves out weighs 1; a key that is not a label of the data is refused, listing the
 * labels), or "balanced": scikit-learn's n_samples / (n_classes × count(class)) over the
 * training targets `trainY`, where n_classes counts the classes present. Computed in double
 * precision and rounded to float32 once, here, so every process gets the same bits.
 */
export function classWeights(spec: ClassWeightSpec, labels: LabelSet, trainY: Float32Array, file: string): Float64Array {
  const weights = new Float64Array(labels.size).fill(1);
  if (spec === 'balanced') {
    const counts = new Float64Array(labels.size);
    for (let r = 0; r < trainY.length; r++) counts[trainY[r]!]!++;
    const present = counts.reduce((n, count) => n + (count > 0 ? 1 : 0), 0);
    for (let k = 0; k < labels.size; k++) if (counts[k]! > 0) weights[k] = Math.fround(trainY.length / (present * counts[k]!));
    return weights;
  }
  const keyOf = new Map<number, string>();
  for (const [key, weight] of Object.entries(spec)) {
    const k = labels.classOf(labelKey(key) ?? key);
    if (k === undefined) throw new ConfigError(`classWeight: ${JSON.stringify(shortLabel(key))} is not a label of ${file}; its labels are ${labels}`);
    const twice = keyOf.get(k);
    if (twice !== undefined) throw new ConfigError(`classWeight: ${JSON.stringify(twice)} and ${JSON.stringify(key)} name the same class`);
    keyOf.set(k, key);
    weights[k] = Math.fround(weight);
  }
  return weights;
}

/**
 * The training weights: each row's sample weight (1 without a column) times its class's weight
 * (1 without classWeight), rounded to float32. Writes them into `train.w`.
 */
export function weighTraining(train: Dataset, perClass: Float64Array | undefined): void {
  if (!perClass) return;
  const w = train.w ?? new Float32Array(train.rows).fill(1);
  for (let r = 0; r < train.rows; r++) w[r] = Math.fround(w[r]! * perClass[train.y[r]!]!);
  train.w = w;
}

/** Refuses training weights that are all zero: nothing would be learned. `source` names what set them. */
export function checkSomeWeight(train: Dataset, file: string, source: string): void {
  const { w } = train;
  if (!w || train.rows === 0) return;
  for (let r = 0; r < w.length; r++) if (w[r] !== 0) return;
  const all = train.rows === 1 ? 'the 1 training row weighs' : `all ${train.rows} training rows weigh`;
  throw new DataError(`${file}: ${all} 0 (${source}); a run would learn nothing`);
}
