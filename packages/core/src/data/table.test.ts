import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LossName } from '../config/names.js';
import type { JobConfig, TableDataSpec } from '../config/schema.js';
import { ConfigError, DataError, ModelError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import type { Dataset } from './dataset.js';
import { type DataConfig, prepareData, readNewData } from './prepare.js';
import { applyNormalization, fitNormalization, gatherRows, loadCsv, loadLabeledCsv, splitAt, splitValidation } from './table.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-data-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function csv(text: string, name = 'data.csv'): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const dataError = (fn: () => unknown): DataError => thrown(fn, DataError, 'E_DATA');

function dataset(rows: number[][], y: number[]): Dataset {
  return { rows: rows.length, featureCount: rows[0]?.length ?? 0, x: Float32Array.from(rows.flat()), y: Float32Array.from(y) };
}

describe('loadCsv', () => {
  it('reads the named columns, in the order of data.features, row-major', () => {
    const file = csv('a,b,y,unused\n1,2.5,3,x\n-4,1e2,6,y\n');
    const data = loadCsv({ path: file, features: ['b', 'a'], target: 'y' });
    expect(data.rows).toBe(2);
    expect(data.featureCount).toBe(2);
    expect(Array.from(data.x)).toEqual([2.5, 1, 100, -4]);
    expect(Array.from(data.y)).toEqual([3, 6]);
  });

  it('trims cells, accepts CRLF line ends and skips blank lines', () => {
    const file = csv('a , y\r\n 1 , 2 \r\n\r\n3,4\r\n');
    const data = loadCsv({ path: file, features: ['a'], target: 'y' });
    expect(Array.from(data.x)).toEqual([1, 3]);
    expect(Array.from(data.y)).toEqual([2, 4]);
  });

  it('names the file, line and column of a cell that is not a number', () => {
    const file = csv('a,b,y\n1,2,3\n4,abc,6\n');
    expect(dataError(() => loadCsv({ path: file, features: ['a', 'b'], target: 'y' })).message).toBe(
      `${file}:3: column "b": "abc" is not a number`,
    );
  });

  it('counts blank lines when naming the line of a bad cell', () => {
    const file = csv('a,y\n1,2\n\n3,x\n');
    expect(dataError(() => loadCsv({ path: file, features: ['a'], target: 'y' })).message).toBe(`${file}:4: column "y": "x" is not a number`);
  });

  it('rejects an empty cell', () => {
    const file = csv('a,b,y\n1,2,3\n4,,6\n');
    expect(dataError(() => loadCsv({ path: file, features: ['a', 'b'], target: 'y' })).message).toBe(
      `${file}:3: column "b": "" is not a number`,
    );
  });

  it('rejects a value that is not finite', () => {
    const file = csv('a,y\n1,2\nInfinity,3\n');
    expect(dataError(() => loadCsv({ path: file, features: ['a'], target: 'y' })).message).toBe(
      `${file}:3: column "a": "Infinity" is not a number`,
    );
  });

  it('names a missing feature column and the field that names it', () => {
    const file = csv('a,b,y\n1,2,3\n');
    const message = dataError(() => loadCsv({ path: file, features: ['a', 'c'], target: 'y' })).message;
    expect(message).toBe(`${file}: no column "c" (named in data.features); the header has a, b, y`);
  });

  it('names a missing target column and the field that names it', () => {
    const file = csv('a,b,y\n1,2,3\n');
    const message = dataError(() => loadCsv({ path: file, features: ['a'], target: 'price' })).message;
    expect(message).toBe(`${file}: no column "price" (named in data.target); the header has a, b, y`);
  });

  it('names a missing file', () => {
    const file = path.join(dir, 'nope.csv');
    expect(dataError(() => loadCsv({ path: file, features: ['a'], target: 'y' })).message).toBe(`${file}: cannot read data file: no such file`);
  });

  it('names the file on a ragged row', () => {
    const file = csv('a,b,y\n1,2,3\n4,5\n');
    expect(dataError(() => loadCsv({ path: file, features: ['a', 'b'], target: 'y' })).message).toMatch(
      new RegExp(`^${escapeRegExp(file)}:3: Invalid Record Length: expect 3, got 2$`),
    );
  });

  it('rejects an empty file and a file with only a header', () => {
    expect(dataError(() => loadCsv({ path: csv(''), features: ['a'], target: 'y' })).message).toBe(
      `${path.join(dir, 'data.csv')}: the file is empty; expected a header row`,
    );
    const file = csv('a,y\n', 'header.csv');
    expect(dataError(() => loadCsv({ path: file, features: ['a'], target: 'y' })).message).toBe(`${file}: no data rows after the header`);
  });
});

describe('splitValidation', () => {
  const ten = dataset(
    Array.from({ length: 10 }, (_, r) => [r, 10 * r]),
    Array.from({ length: 10 }, (_, r) => 100 + r),
  );

  it('holds out the last fraction of the rows', () => {
    const { train, validation } = splitValidation(ten, 0.3);
    expect(train.rows).toBe(7);
    expect(validation.rows).toBe(3);
    expect(Array.from(train.y)).toEqual([100, 101, 102, 103, 104, 105, 106]);
    expect(Array.from(validation.y)).toEqual([107, 108, 109]);
    expect(Array.from(validation.x)).toEqual([7, 70, 8, 80, 9, 90]);
    expect(train.featureCount).toBe(2);
    expect(validation.featureCount).toBe(2);
  });

  it('rounds the training rows down, as Keras does', () => {
    // 10 * (1 - 0.25) = 7.5 -> 7 training rows.
    expect(splitValidation(ten, 0.25).train.rows).toBe(7);
    expect(splitValidation(ten, 0.25).validation.rows).toBe(3);
  });

  it('keeps every row for training when the fraction is 0', () => {
    const { train, validation } = splitValidation(ten, 0);
    expect(train.rows).toBe(10);
    expect(validation.rows).toBe(0);
    expect(validation.x.length).toBe(0);
  });

  it('copies the rows, so changing a split leaves the source alone', () => {
    const { train } = splitValidation(ten, 0.5);
    train.x[0] = -1;
    expect(ten.x[0]).toBe(0);
  });
});

describe('fitNormalization and applyNormalization', () => {
  it('computes the population mean and deviation of each feature', () => {
    const norm = fitNormalization(dataset([[1, 10], [3, 10], [5, 40]], [0, 0, 0]));
    expect(norm.mean).toEqual([3, 20]);
    expect(norm.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(norm.std[1]).toBeCloseTo(Math.sqrt(200), 12);
  });

  it('gives a constant column a deviation of 1', () => {
    const norm = fitNormalization(dataset([[1, 7], [3, 7]], [0, 0]));
    expect(norm.std).toEqual([1, 1]);
    expect(norm.mean).toEqual([2, 7]);
  });

  it('standardises the features and leaves the targets alone', () => {
    const data = dataset([[1, 7], [3, 7]], [5, 6]);
    applyNormalization(data, { mean: [2, 7], std: [1, 1] });
    expect(Array.from(data.x)).toEqual([-1, 0, 1, 0]);
    expect(Array.from(data.y)).toEqual([5, 6]);
  });
});

/** A table job: features a and b, target y; a linear head, or a sigmoid / softmax head for a classification loss. */
function tableJob(
  file: string,
  validationSplit: number,
  options: { normalize?: boolean; loss?: LossName; units?: number; data?: Partial<TableDataSpec> } = {},
): DataConfig {
  const loss = options.loss ?? 'meanSquaredError';
  const units = options.units ?? 1;
  const activation = loss === 'binaryCrossentropy' ? 'sigmoid' : loss === 'meanSquaredError' ? 'linear' : 'softmax';
  const model: JobConfig['model'] = [
    { type: 'dense', units: 4, activation: 'relu', useBias: true },
    { type: 'dense', units, activation, useBias: true },
  ];
  const data: TableDataSpec = {
    type: 'table',
    format: 'csv',
    path: file,
    features: ['a', 'b'],
    target: 'y',
    normalize: options.normalize ?? true,
    unknownLabels: 'fail',
    ...options.data,
  };
  return { data, validationSplit, loss, model };
}

describe('prepareData', () => {
  const config = (file: string, validationSplit: number, normalize = true): DataConfig => tableJob(file, validationSplit, { normalize });

  it('standardises both splits with the statistics of the training split only', () => {
    // Train: a = 1, 3 (mean 2, std 1); b = 7, 7 (constant). Validation: a = 10, b = 9.
    const file = csv('a,b,y\n1,7,0\n3,7,1\n10,9,2\n');
    const prepared = prepareData(config(file, 1 / 3));
    expect(prepared.featureNames).toEqual(['a', 'b']);
    expect(prepared.normalization).toEqual({ mean: [2, 7], std: [1, 1] });
    expect(Array.from(prepared.train.x)).toEqual([-1, 0, 1, 0]);
    expect(Array.from(prepared.validation.x)).toEqual([8, 2]);
    expect(Array.from(prepared.train.y)).toEqual([0, 1]);
    expect(Array.from(prepared.validation.y)).toEqual([2]);
  });

  it('leaves the values alone when normalize is off', () => {
    const file = csv('a,b,y\n1,7,0\n3,7,1\n10,9,2\n');
    const prepared = prepareData(config(file, 1 / 3, false));
    expect(prepared.normalization).toBeUndefined();
    expect('normalization' in prepared).toBe(false);
    expect(Array.from(prepared.train.x)).toEqual([1, 7, 3, 7]);
    expect(Array.from(prepared.validation.x)).toEqual([10, 9]);
  });

  it('rejects a split that leaves no training rows', () => {
    const file = csv('a,b,y\n1,7,0\n');
    expect(dataError(() => prepareData(config(file, 0.5))).message).toBe(`${file}: validationSplit 0.5 leaves no training rows`);
  });
});

describe('splitAt', () => {
  it('cuts after the given row', () => {
    const data = dataset([[0], [1], [2]], [10, 11, 12]);
    const { train, validation } = splitAt(data, 1);
    expect(Array.from(train.y)).toEqual([10]);
    expect(Array.from(validation.x)).toEqual([1, 2]);
  });
});

describe('loadLabeledCsv', () => {
  it('reads the features as numbers and the target as label keys, with their lines', () => {
    const file = csv('a,b,y\n1,2,spam\n\n3,4, 7.0 \n');
    const { data, keys, lines } = loadLabeledCsv({ path: file, features: ['a', 'b'], target: 'y' });
    expect(Array.from(data.x)).toEqual([1, 2, 3, 4]);
    expect(keys).toEqual(['spam', '7']);
    expect(lines).toEqual([2, 4]);
  });

  it('names the line and column of an empty label, and of a bad feature before it', () => {
    const file = csv('a,b,y\n1,2,x\n3,4,\n');
    expect(dataError(() => loadLabeledCsv({ path: file, features: ['a', 'b'], target: 'y' })).message).toBe(`${file}:3: column "y": "" is not a class label`);
    const bad = csv('a,b,y\n1,2,x\nq,4,\n', 'bad.csv');
    expect(dataError(() => loadLabeledCsv({ path: bad, features: ['a', 'b'], target: 'y' })).message).toBe(`${bad}:3: column "a": "q" is not a number`);
  });
});

describe('prepareData: class labels in a table', () => {
  const configError = (fn: () => unknown): string => thrown(fn, ConfigError, 'E_CONFIG').message;
  const rows = (labels: readonly string[]): string => ['a,b,y', ...labels.map((label, i) => `${i},${10 - i},${label}`)].join('\n');

  it('binaryCrossentropy reads 0/1 targets, also written 0.0 and 1.0, as classes', () => {
    const file = csv(rows(['1', '0', '1.0', '0.0']));
    const prepared = prepareData(tableJob(file, 0.5, { loss: 'binaryCrossentropy', normalize: false }));
    expect(Array.from(prepared.train.y)).toEqual([1, 0]);
    expect(Array.from(prepared.validation.y)).toEqual([1, 0]);
    expect(Array.from(prepared.validation.x)).toEqual([2, 8, 3, 7]);
    expect(prepared.labels).toEqual(['0', '1']);
  });

  it('binaryCrossentropy refuses a regression target, naming the file, line and column', () => {
    const file = csv(rows(['1', '24.5', '0', '3']));
    expect(dataError(() => prepareData(tableJob(file, 0, { loss: 'binaryCrossentropy' }))).message).toBe(
      `2 rows have labels outside the label set [0, 1]; first: ${file}:3 column "y" label "24.5"; binaryCrossentropy needs 0/1 labels, or two names in data.labels`,
    );
  });

  it('takes string labels, sorted, from the training split', () => {
    const file = csv(rows(['spam', 'ham', 'eggs', 'ham', 'spam', 'eggs']));
    const prepared = prepareData(tableJob(file, 1 / 3, { loss: 'sparseCategoricalCrossentropy', units: 3 }));
    expect(prepared.labels).toEqual(['eggs', 'ham', 'spam']);
    expect(Array.from(prepared.train.y)).toEqual([2, 1, 0, 1]);
    expect(Array.from(prepared.validation.y)).toEqual([2, 0]);
    // Normalisation is fitted on the training rows: a = 0..3.
    expect(prepared.normalization?.mean).toEqual([1.5, 8.5]);
  });

  it('sorts integer labels as numbers', () => {
    const file = csv(rows(['10', '9', '100', '9']));
    const prepared = prepareData(tableJob(file, 0, { loss: 'categoricalCrossentropy', units: 3 }));
    expect(prepared.labels).toEqual(['9', '10', '100']);
    expect(Array.from(prepared.train.y)).toEqual([1, 0, 2, 0]);
  });

  it('uses listed labels, in the order listed, and fails on any other', () => {
    const file = csv(rows(['b', 'a', 'b']));
    const prepared = prepareData(tableJob(file, 0, { loss: 'sparseCategoricalCrossentropy', units: 3, data: { labels: ['b', 'c', 'a'] } }));
    expect(prepared.labels).toEqual(['b', 'c', 'a']);
    expect(Array.from(prepared.train.y)).toEqual([0, 2, 0]);
    expect(dataError(() => prepareData(tableJob(file, 0, { loss: 'sparseCategoricalCrossentropy', units: 2, data: { labels: ['b', 'c'] } }))).message).toBe(
      `1 row has a label outside the label set [b, c]; first: ${file}:3 column "y" label "a"; add them to data.labels, or set data.unknownLabels to "skip"`,
    );
  });

  it('leaves out a row outside the listed labels before the split with unknownLabels "skip", and reports it', () => {
    const file = csv(rows(['b', 'x', 'a', 'b', 'a']));
    const prepared = prepareData(
      tableJob(file, 0.5, { loss: 'sparseCategoricalCrossentropy', units: 2, normalize: false, data: { labels: ['a', 'b'], unknownLabels: 'skip' } }),
    );
    expect(Array.from(prepared.train.x)).toEqual([0, 10, 2, 8]);
    expect(Array.from(prepared.train.y)).toEqual([1, 0]);
    expect(Array.from(prepared.validation.y)).toEqual([1, 0]);
    expect(prepared.badRows).toEqual({ count: 1, examples: [`${file}:3: column "y": label "x" is outside the label set [a, b]`] });
  });

  it('fails on a validation label the training split lacks, or skips it', () => {
    const file = csv(rows(['a', 'b', 'a', 'c']));
    expect(dataError(() => prepareData(tableJob(file, 0.25, { loss: 'sparseCategoricalCrossentropy', units: 2 }))).message).toBe(
      `1 row has a label outside the label set [a, b]; first: ${file}:5 column "y" label "c"; the label set is the training split's: list every class in data.labels, or set data.unknownLabels to "skip"`,
    );
    const prepared = prepareData(tableJob(file, 0.25, { loss: 'sparseCategoricalCrossentropy', units: 2, data: { unknownLabels: 'skip' } }));
    expect(prepared.train.rows).toBe(3);
    expect(prepared.validation.rows).toBe(0);
    expect(prepared.badRows?.count).toBe(1);
  });

  it('needs one head unit per class', () => {
    const file = csv(rows(['a', 'b', 'c', 'd']));
    expect(configError(() => prepareData(tableJob(file, 0, { loss: 'sparseCategoricalCrossentropy', units: 3 })))).toBe(
      'model[1].units is 3, but the training data has 4 labels (a, b, c, d)',
    );
  });

  it('refuses data.labels with a regression loss', () => {
    const file = csv(rows(['1']));
    expect(configError(() => prepareData(tableJob(file, 0, { data: { labels: ['a', 'b'] } })))).toBe(
      'data.labels: class names need a classification loss (binaryCrossentropy, sparseCategoricalCrossentropy, categoricalCrossentropy), but loss is meanSquaredError',
    );
  });

  it('reads a regression target as a number whatever it looks like', () => {
    const file = csv(rows(['24.5', '1', '-3']));
    const prepared = prepareData(tableJob(file, 0));
    expect(Array.from(prepared.train.y)).toEqual([24.5, 1, -3]);
    expect(prepared.labels).toBeUndefined();
    expect(dataError(() => prepareData(tableJob(csv(rows(['spam'])), 0))).message).toMatch(/:2: column "y": "spam" is not a number$/);
  });
});

describe('readNewData: a new table for a saved model', () => {
  it('reads it with the saved normalisation and label set, and refuses a label outside it', () => {
    const job = tableJob(csv('a,b,y\n1,2,c\n3,4,a\n'), 0, { loss: 'sparseCategoricalCrossentropy', units: 3 });
    const saved = { normalization: { mean: [1, 2], std: [2, 1] }, labels: ['c', 'b', 'a'] };
    const { data, skipped } = readNewData(job, saved);
    expect(Array.from(data.x)).toEqual([0, 0, 1, 2]);
    expect(Array.from(data.y)).toEqual([0, 2]);
    expect(skipped).toEqual([]);
    const other = csv('a,b,y\n1,2,d\n', 'other.csv');
    expect(dataError(() => readNewData({ ...job, data: { ...job.data, path: other } }, saved)).message).toMatch(
      /^1 row has a label outside the label set \[c, b, a\]; first: .*other\.csv:2 column "y" label "d"; the model was trained on this label set$/,
    );
  });
  it('refuses a saved model without the label set or the normalisation its config needs', () => {
    const job = tableJob(csv('a,b,y\n1,2,c\n'), 0, { loss: 'sparseCategoricalCrossentropy', units: 3 });
    const modelError = (fn: () => unknown): string => thrown(fn, ModelError, 'E_MODEL').message;
    expect(modelError(() => readNewData(job, { normalization: { mean: [0, 0], std: [1, 1] } }))).toBe('the saved model has no label set for sparseCategoricalCrossentropy');
    expect(modelError(() => readNewData(job, { labels: ['a', 'b', 'c'] }))).toBe('the saved model has no normalization for its features');
  });
});

describe('gatherRows', () => {
  it('copies the chosen rows, in the order given, into fresh arrays', () => {
    const data = dataset([[0, 1], [2, 3], [4, 5]], [10, 11, 12]);
    const { x, y } = gatherRows(data, Uint32Array.from([2, 0, 2]));
    expect(Array.from(x)).toEqual([4, 5, 0, 1, 4, 5]);
    expect(Array.from(y)).toEqual([12, 10, 12]);
    x[0] = -1;
    expect(data.x[4]).toBe(4);
  });

  it('gives empty arrays for no rows', () => {
    const { x, y } = gatherRows(dataset([[0, 1]], [10]), new Uint32Array(0));
    expect(x.length).toBe(0);
    expect(y.length).toBe(0);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
