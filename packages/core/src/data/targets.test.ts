import { describe, expect, it } from 'vitest';
import type { JobConfig, TableDataSpec } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { LabelSet } from './labels.js';
import { assignClasses, checkHeadWidth, checkTargetConfig, knownLabelSet, type TargetConfig, targetKind } from './targets.js';

const data = (labels?: (string | number)[]): TableDataSpec => ({
  type: 'table',
  format: 'csv',
  path: 'd.csv',
  features: ['a'],
  target: 'y',
  normalize: true,
  unknownLabels: 'fail',
  ...(labels ? { labels } : {}),
});
const head = (units: number): JobConfig['model'] => [{ type: 'dense', units, activation: units === 1 ? 'sigmoid' : 'softmax', useBias: true }];
const config = (loss: JobConfig['loss'], labels?: (string | number)[], units = 1): TargetConfig => ({ loss, data: data(labels), model: head(units) });
const configError = (fn: () => unknown): string => thrown(fn, ConfigError, 'E_CONFIG').message;

describe('targetKind', () => {
  it('sorts every loss into regression, binary or classes', () => {
    expect((['meanSquaredError', 'meanAbsoluteError', 'huber'] as const).map(targetKind)).toEqual(['regression', 'regression', 'regression']);
    expect((['binaryCrossentropy', 'sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const).map(targetKind)).toEqual([
      'binary',
      'classes',
      'classes',
    ]);
  });
});

describe('checkTargetConfig', () => {
  it('accepts what fits', () => {
    expect(() => checkTargetConfig(config('meanSquaredError'))).not.toThrow();
    expect(() => checkTargetConfig(config('binaryCrossentropy', ['no', 'yes']))).not.toThrow();
    expect(() => checkTargetConfig(config('sparseCategoricalCrossentropy', ['a', 'b', 'c'], 3))).not.toThrow();
  });

  it('refuses labels with a regression loss, and other than two with binaryCrossentropy', () => {
    expect(configError(() => checkTargetConfig(config('huber', ['a', 'b'])))).toMatch(
      /^data\.labels: class names need a classification loss .*, but loss is huber$/,
    );
    expect(configError(() => checkTargetConfig(config('binaryCrossentropy', ['a', 'b', 'c'])))).toBe(
      'data.labels lists 3 labels, but binaryCrossentropy needs exactly two (class 0, then class 1)',
    );
  });
});

describe('knownLabelSet', () => {
  it('is the listed labels, binary 0/1, the saved set, or none', () => {
    expect(knownLabelSet(config('meanSquaredError'))).toBeUndefined();
    expect(knownLabelSet(config('sparseCategoricalCrossentropy'))).toBeUndefined();
    expect(knownLabelSet(config('binaryCrossentropy'))?.origin).toBe('binary');
    expect(knownLabelSet(config('binaryCrossentropy'), ['0', '1'])?.classOf('true')).toBe(1);
    expect(knownLabelSet(config('binaryCrossentropy', ['n', 'y']))?.names).toEqual(['n', 'y']);
    expect(knownLabelSet(config('sparseCategoricalCrossentropy'), ['b', 'a'])?.names).toEqual(['b', 'a']);
    expect(knownLabelSet(config('sparseCategoricalCrossentropy'), ['b', 'a'])?.origin).toBe('saved');
  });

  it('refuses a saved set that differs from the listed or the binary one', () => {
    expect(configError(() => knownLabelSet(config('binaryCrossentropy'), ['n', 'y']))).toBe(
      'data.labels: the label set [0, 1] differs from the label set [n, y] saved with the model',
    );
    expect(configError(() => knownLabelSet(config('categoricalCrossentropy', [1, 2]), ['2', '1']))).toBe(
      'data.labels: the label set [1, 2] differs from the label set [2, 1] saved with the model',
    );
  });
});

describe('assignClasses', () => {
  const options = { file: 'f.jsonl', unknownLabels: 'fail' as const, lineOf: (i: number) => 10 + i };

  it('with a known set, leaves rows out before the split, so the split counts kept rows', () => {
    const classes = assignClasses(['a', 'x', 'b', 'a', 'y'], {
      ...options,
      unknownLabels: 'skip',
      validationSplit: 0.5,
      known: LabelSet.of(['a', 'b'], 'listed'),
    });
    expect(Array.from(classes.rows)).toEqual([0, 2, 3]);
    expect(Array.from(classes.y)).toEqual([0, 1, 0]);
    expect(classes.trainRows).toBe(1);
    expect(classes.skipped).toEqual(['f.jsonl:11: label "x" is outside the label set [a, b]', 'f.jsonl:14: label "y" is outside the label set [a, b]']);
  });

  it("without one, takes the training split's labels and splits by all rows", () => {
    const classes = assignClasses(['b', 'a', 'b', 'c', 'a'], { ...options, unknownLabels: 'skip', validationSplit: 0.4, known: undefined });
    expect(classes.labels.names).toEqual(['a', 'b']);
    expect(classes.trainRows).toBe(3);
    expect(Array.from(classes.rows)).toEqual([0, 1, 2, 4]);
    expect(Array.from(classes.y)).toEqual([1, 0, 1, 0]);
  });

  it('fails with the count and the first place, naming a column when given', () => {
    const error = thrown(() => assignClasses(['a', 'q', 'r'], { ...options, validationSplit: 0, known: LabelSet.binary(), column: 'y' }), DataError, 'E_DATA');
    expect(error.message).toBe(
      '3 rows have labels outside the label set [0, 1]; first: f.jsonl:10 column "y" label "a"; binaryCrossentropy needs 0/1 labels, or two names in data.labels',
    );
  });
});

describe('checkHeadWidth', () => {
  it('needs one unit per class for the categorical losses only', () => {
    const three = LabelSet.fromTraining(['a', 'b', 'c']);
    expect(() => checkHeadWidth(config('sparseCategoricalCrossentropy', undefined, 3), three)).not.toThrow();
    expect(() => checkHeadWidth(config('binaryCrossentropy'), LabelSet.binary())).not.toThrow();
    expect(configError(() => checkHeadWidth(config('sparseCategoricalCrossentropy', undefined, 2), three))).toBe(
      'model[0].units is 2, but the training data has 3 labels (a, b, c)',
    );
    expect(configError(() => checkHeadWidth(config('categoricalCrossentropy', undefined, 4), LabelSet.of(['a', 'b'], 'saved')))).toBe(
      'model[0].units is 4, but the saved model has 2 labels (a, b)',
    );
  });
});
