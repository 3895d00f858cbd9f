import type { JobConfig } from '../config/schema.js';
import { DataError } from '../errors.js';
import type { Normalization, PreparedData } from './dataset.js';
import { applyNormalization, fitNormalization, loadCsv, splitValidation } from './table.js';
import { prepareTextData } from './textData.js';
import type { TokenizerJSON } from './tokenizer.js';

/**
 * Loads a job's data: reads it, splits off validation, and fits the preprocessing on the training
 * split, or reuses a saved one (a vocabulary, a normalisation) from a model or checkpoint that
 * continues, so its inputs mean what they meant.
 */
export function prepareData(config: Pick<JobConfig, 'data' | 'validationSplit'>, saved: { tokenizer?: TokenizerJSON; normalization?: Normalization } = {}): PreparedData {
  const spec = config.data;
  if (spec.type === 'text') return prepareTextData(spec, config.validationSplit, saved.tokenizer);
  const all = loadCsv(spec);
  const { train, validation } = splitValidation(all, config.validationSplit);
  if (train.rows === 0) throw new DataError(`${spec.path}: validationSplit ${config.validationSplit} leaves no training rows`);
  let normalization: Normalization | undefined;
  if (spec.normalize) {
    normalization = saved.normalization ?? fitNormalization(train);
    if (normalization.mean.length !== spec.features.length || normalization.std.length !== spec.features.length) {
      throw new DataError(`${spec.path}: the saved normalisation has ${normalization.mean.length} features, data.features names ${spec.features.length}`);
    }
    applyNormalization(train, normalization);
    applyNormalization(validation, normalization);
  }
  return { featureNames: [...spec.features], train, validation, ...(normalization ? { normalization } : {}) };
}

