import type { JobConfig, TableDataSpec } from '../config/schema.js';
import { DataError, ModelError } from '../errors.js';
import { badRowReport, type Dataset, type LoadedData, type Normalization, type PreparedData, type SavedPreparation } from './dataset.js';
import { applyNormalization, fitNormalization, gatherRows, loadCsv, loadLabeledCsv, splitAt, splitValidation } from './table.js';
import { assignClasses, checkHeadWidth, checkTargetConfig, knownLabelSet, targetKind } from './targets.js';
import { loadTextData } from './textData.js';

export type DataConfig = Pick<JobConfig, 'data' | 'validationSplit' | 'loss' | 'model'>;

/**
 * Loads a job's data: reads it, checks its targets against the loss (class labels become class
 * indices), splits off validation, and fits the preprocessing on the training split, or reuses a
 * saved one (a vocabulary, a normalisation, a label set) from a model or checkpoint that
 * continues, so its inputs and outputs mean what they meant.
 */
export function prepareData(config: DataConfig, saved: SavedPreparation = {}): PreparedData {
  const { prepared, bad } = loadData(config, saved);
  return bad.length > 0 ? { ...prepared, badRows: badRowReport(bad) } : prepared;
}

/**
 * Reads a new file (evaluate, predict) the way a saved model's training data was read: its
 * columns or fields, its tokenizer or normalisation, its label set. No split, nothing fitted.
 * `skipped` lists every row left out, as "file:line: reason".
 */
export function readNewData(config: Pick<JobConfig, 'data' | 'loss' | 'model'>, saved: SavedPreparation): { data: Dataset; skipped: string[] } {
  const spec = config.data;
  if (spec.type === 'text' && !saved.tokenizer) throw new ModelError('the saved model has no tokenizer');
  if (spec.type === 'table' && spec.normalize && !saved.normalization) throw new ModelError('the saved model has no normalization for its features');
  if (targetKind(config.loss) === 'classes' && !saved.labels && !spec.labels) throw new ModelError(`the saved model has no label set for ${config.loss}`);
  const { prepared, bad } = loadData({ ...config, validationSplit: 0 }, saved);
  return { data: prepared.train, skipped: bad };
}

function loadData(config: DataConfig, saved: SavedPreparation): LoadedData {
  checkTargetConfig(config);
  const spec = config.data;
  if (spec.type === 'text') return loadTextData(spec, config, saved);
  if (targetKind(config.loss) === 'regression') {
    const all = loadCsv(spec);
    const { train, validation } = splitValidation(all, config.validationSplit);
    if (train.rows === 0) throw new DataError(`${spec.path}: validationSplit ${config.validationSplit} leaves no training rows`);
    return { prepared: normalized(spec, train, validation, saved.normalization), bad: [] };
  }
  const { data, keys, lines } = loadLabeledCsv(spec);
  const classes = assignClasses(keys, {
    file: spec.path,
    validationSplit: config.validationSplit,
    unknownLabels: spec.unknownLabels,
    known: knownLabelSet(config, saved.labels),
    lineOf: (i) => lines[i]!,
    column: spec.target,
  });
  checkHeadWidth(config, classes.labels);
  const kept: Dataset = { rows: classes.rows.length, featureCount: data.featureCount, x: gatherRows(data, classes.rows).x, y: classes.y };
  const { train, validation } = splitAt(kept, classes.trainRows);
  return { prepared: { ...normalized(spec, train, validation, saved.normalization), labels: [...classes.labels.names] }, bad: classes.skipped };
}

/** Standardises both splits (when data.normalize) with the saved statistics, or the training split's. */
function normalized(spec: TableDataSpec, train: Dataset, validation: Dataset, saved: Normalization | undefined): PreparedData {
  let normalization: Normalization | undefined;
  if (spec.normalize) {
    normalization = saved ?? fitNormalization(train);
    if (normalization.mean.length !== spec.features.length || normalization.std.length !== spec.features.length) {
      throw new DataError(`${spec.path}: the saved normalisation has ${normalization.mean.length} features, data.features names ${spec.features.length}`);
    }
    applyNormalization(train, normalization);
    applyNormalization(validation, normalization);
  }
  return { featureNames: [...spec.features], train, validation, ...(normalization ? { normalization } : {}) };
}
