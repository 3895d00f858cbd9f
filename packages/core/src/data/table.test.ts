import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobConfig } from '../config/schema.js';
import { DataError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import type { Dataset } from './dataset.js';
import { prepareData } from './prepare.js';
import { applyNormalization, fitNormalization, gatherRows, loadCsv, splitValidation } from './table.js';

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

describe('prepareData', () => {
  type DataConfig = Pick<JobConfig, 'data' | 'validationSplit'>;
  const config = (file: string, validationSplit: number, normalize = true): DataConfig => ({
    data: { type: 'table', format: 'csv', path: file, features: ['a', 'b'], target: 'y', normalize },
    validationSplit,
  });

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
