import type { JobConfig } from '../config/schema.js';
import { DataError } from '../errors.js';
import type { Normalization, PreparedData } from './dataset.js';
import { applyNormalization, fitNormalization, loadCsv, splitValidation } from './table.js';
import { prepareTextData } from './textData.js';
import type { TokenizerJSON } from './tokenizer.js';

/** Loads a job's data: reads it, splits off validation, and fits the preprocessing on the training split. */
export function prepareData(config: Pick<JobConfig, 'data' | 'validationSplit'>, saved: { tokenizer?: TokenizerJSON } = {}): PreparedData {
  const spec = config.data;
  if (spec.type === 'text') return prepareTextData(spec, config.validationSplit, saved.tokenizer);
  const all = loadCsv(spec);
  const { train, validation } = splitValidation(all, config.validationSplit);
  if (train.rows === 0) throw new DataError(`${spec.path}: validationSplit ${config.validationSplit} leaves no training rows`);
  let normalization: Normalization | undefined;
  if (spec.normalize) {
    normalization = fitNormalization(train);
    applyNormalization(train, normalization);
    applyNormalization(validation, normalization);
  }
  return { featureNames: [...spec.features], train, validation, ...(normalization ? { normalization } : {}) };
}

