import type { JobConfig, TableDataSpec, ValidationDataSpec } from '../config/schema.js';
import { ConfigError, DataError, ModelError } from '../errors.js';
import { badRowReport, type Dataset, type LoadedData, type Normalization, type Preparation, type PreparedData, type SavedPreparation } from './dataset.js';
import type { LabelSet } from './labels.js';
import { applyNormalization, fitNormalization, gatherRows, loadCsv, loadLabeledCsv, splitAt, splitValidation } from './table.js';
import { assignClasses, checkHeadWidth, checkTargetConfig, knownLabelSet, targetKind } from './targets.js';
import { loadTextData } from './textData.js';
import { checkSomeWeight, classWeights, weighTraining } from './weights.js';

export type DataConfig = Pick<JobConfig, 'data' | 'validationSplit' | 'loss' | 'model' | 'classWeight' | 'validationData'>;

/**
 * Loads a job's data: reads it, checks its targets against the loss (class labels become class
 * indices), splits off validation (or reads the validationData file), and fits the preprocessing
 * on the training split, or reuses a saved one (a vocabulary, a normalisation, a label set) from
 * a model or checkpoint that continues, so its inputs and outputs mean what they meant. Then
 * weighs the samples (weights.ts): the training split by data.sampleWeight × classWeight, the
 * validation rows by data.sampleWeight alone.
 */
export function prepareData(config: DataConfig, saved: SavedPreparation = {}): PreparedData {
  const { validationData } = config;
  const training = loadData(validationData ? { ...config, validationSplit: 0 } : config, saved);
  let { prepared } = training;
  const bad = [...training.bad];
  if (validationData) {
    // The validation file means what the training data means: its vocabulary, scaling and label set.
    const preparation = { ...fitted(prepared), ...(training.labelSet ? { labelSet: training.labelSet } : {}) };
    const held = loadData(validationFileConfig(config, validationData), preparation);
    prepared = { ...prepared, validation: held.prepared.train };
    bad.push(...held.bad);
  }
  weighTrainingSplit(config, prepared.train, training.labelSet);
  return bad.length > 0 ? { ...prepared, badRows: badRowReport(bad) } : prepared;
}

/** The preprocessing fitted on (or taken for) the training split. */
const fitted = (prepared: PreparedData): Preparation => ({
  ...(prepared.tokenizer ? { tokenizer: prepared.tokenizer } : {}),
  ...(prepared.normalization ? { normalization: prepared.normalization } : {}),
});

/** The config that reads the validationData file as the training data is read: its columns or fields, all of it, no class weights. */
function validationFileConfig(config: DataConfig, file: ValidationDataSpec): DataConfig {
  const { validationData: _file, classWeight: _weights, ...rest } = config;
  const { data } = config;
  if (data.type === 'table') {
    if (file.format === 'jsonl') throw new ConfigError('validationData.format: table data is read from CSV files; "jsonl" is for text data');
    return { ...rest, validationSplit: 0, data: { ...data, path: file.path } };
  }
  const format = file.format ?? data.format;
  return { ...rest, validationSplit: 0, data: { ...data, path: file.path, ...(format ? { format } : {}) } };
}

/** Multiplies the training split's sample weights by classWeight, and refuses weights that are all zero. */
function weighTrainingSplit(config: DataConfig, train: Dataset, labels: LabelSet | undefined): void {
  const { classWeight, data } = config;
  if (classWeight !== undefined) {
    if (!labels) throw new ConfigError(`classWeight: ${config.loss} has no classes to weigh; weight samples with data.sampleWeight instead`);
    weighTraining(train, classWeights(classWeight, labels, train.y, data.path));
  }
  const sources = [...(data.sampleWeight === undefined ? [] : [`data.sampleWeight "${data.sampleWeight}"`]), ...(classWeight === undefined ? [] : ['classWeight'])];
  checkSomeWeight(train, data.path, sources.join(' × '));
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

function loadData(config: Omit<DataConfig, 'classWeight' | 'validationData'>, saved: Preparation): LoadedData {
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
    known: saved.labelSet ?? knownLabelSet(config, saved.labels),
    lineOf: (i) => lines[i]!,
    column: spec.target,
  });
  checkHeadWidth(config, classes.labels);
  const rows = gatherRows(data, classes.rows);
  const kept: Dataset = { rows: classes.rows.length, featureCount: data.featureCount, x: rows.x, y: classes.y, ...(rows.w ? { w: rows.w } : {}) };
  const { train, validation } = splitAt(kept, classes.trainRows);
  return {
    prepared: { ...normalized(spec, train, validation, saved.normalization), labels: [...classes.labels.names] },
    bad: classes.skipped,
    labelSet: classes.labels,
  };
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
