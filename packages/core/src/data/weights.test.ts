import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LossName } from '../config/names.js';
import { KERAS_FILTERS, type JobConfig, type TableDataSpec, type TextDataSpec } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import type { Dataset } from './dataset.js';
import { LabelSet } from './labels.js';
import { type DataConfig, prepareData, readNewData } from './prepare.js';
import { checkSomeWeight, classWeights, parseSampleWeight, weighTraining } from './weights.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-weights-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const dataError = (fn: () => unknown): string => thrown(fn, DataError, 'E_DATA').message;
const configError = (fn: () => unknown): string => thrown(fn, ConfigError, 'E_CONFIG').message;
const values = (a: Float32Array | undefined): number[] | undefined => (a ? Array.from(a) : undefined);

/** A table job: features a and b, target y, a one-unit sigmoid head (or `units` softmax units). */
function tableJob(file: string, options: { data?: Partial<TableDataSpec>; loss?: LossName; units?: number } & Partial<Pick<JobConfig, 'classWeight' | 'validationSplit' | 'validationData'>> = {}): DataConfig {
  const units = options.units ?? 1;
  return {
    data: { type: 'table', format: 'csv', path: file, features: ['a', 'b'], target: 'y', normalize: false, unknownLabels: 'fail', ...options.data },
    validationSplit: options.validationSplit ?? 0,
    loss: options.loss ?? 'binaryCrossentropy',
    model: [{ type: 'dense', units, activation: units === 1 ? 'sigmoid' : 'softmax', useBias: true }],
    ...(options.classWeight !== undefined ? { classWeight: options.classWeight } : {}),
    ...(options.validationData ? { validationData: options.validationData } : {}),
  };
}

/** Rows "a,b,y,w" from [y, w] pairs; a counts the rows. */
const table = (rows: [string, string][]): string => ['a,b,y,w', ...rows.map(([y, w], i) => `${i},${10 - i},${y},${w}`)].join('\n');

describe('parseSampleWeight', () => {
  it('reads finite numbers >= 0 from numbers and cells', () => {
    expect([parseSampleWeight(2), parseSampleWeight('0.5'), parseSampleWeight(' 0 '), parseSampleWeight('1e2')]).toEqual([2, 0.5, 0, 100]);
  });

  it('names what is wrong with anything else', () => {
    expect(parseSampleWeight('abc')).toBe('"abc" is not a number');
    expect(parseSampleWeight('')).toBe('"" is not a number');
    expect(parseSampleWeight('NaN')).toBe('"NaN" is not a number');
    expect(parseSampleWeight(null)).toBe('null is not a number');
    expect(parseSampleWeight('Infinity')).toBe('"Infinity" is not finite');
    expect(parseSampleWeight('-1')).toBe('"-1" is negative');
    expect(parseSampleWeight(-0.5)).toBe('-0.5 is negative');
  });
});

describe('classWeights', () => {
  const binary = LabelSet.binary();

  it('"balanced" is scikit-learn\'s n_samples / (n_classes × count), rounded to float32', () => {
    // sklearn.utils.class_weight.compute_class_weight('balanced', classes=[0, 1], y=[0, 0, 0, 1]) = [0.6667, 2.0]
    expect(Array.from(classWeights('balanced', binary, Float32Array.of(0, 0, 0, 1), 'f'))).toEqual([Math.fround(4 / 6), 2]);
    // A class absent from the training split does not count among n_classes (and weighs 1: it has no samples).
    const three = LabelSet.of(['a', 'b', 'c'], 'listed');
    expect(Array.from(classWeights('balanced', three, Float32Array.of(0, 2, 2, 2, 2), 'f'))).toEqual([Math.fround(5 / 2), 1, Math.fround(5 / 8)]);
  });

  it('a map weighs the classes it names, by the label as the data writes it, and leaves the rest at 1', () => {
    const named = LabelSet.of(['ham', 'spam', 'eggs'], 'listed');
    expect(Array.from(classWeights({ spam: 3, eggs: 0.1 }, named, new Float32Array(0), 'f'))).toEqual([1, 3, Math.fround(0.1)]);
    // "1.0", 1 and "true" are the label 1 of a 0/1 target.
    expect(Array.from(classWeights({ '1.0': 4 }, binary, new Float32Array(0), 'f'))).toEqual([1, 4]);
    expect(Array.from(classWeights({ true: 4, '0': 0.5 }, binary, new Float32Array(0), 'f'))).toEqual([0.5, 4]);
  });

  it('refuses a key that is not a label of the data, listing the labels, and two keys for one class', () => {
    const named = LabelSet.of(['ham', 'spam'], 'listed');
    expect(configError(() => classWeights({ spam: 2, eggs: 1 }, named, new Float32Array(0), 'data/mail.csv'))).toBe(
      'classWeight: "eggs" is not a label of data/mail.csv; its labels are [ham, spam]',
    );
    expect(configError(() => classWeights({ '2': 1 }, binary, new Float32Array(0), 'd.csv'))).toBe('classWeight: "2" is not a label of d.csv; its labels are [0, 1]');
    expect(configError(() => classWeights({ '1': 2, '1.0': 3 }, binary, new Float32Array(0), 'd.csv'))).toBe('classWeight: "1" and "1.0" name the same class');
  });

  it('weighTraining multiplies the sample weights by their class weight, in float32; checkSomeWeight refuses all zeros', () => {
    const train = { rows: 3, featureCount: 0, x: new Float32Array(0), y: Float32Array.of(0, 1, 1), w: Float32Array.of(2, 0.5, 0) };
    weighTraining(train, Float64Array.of(Math.fround(0.1), 3));
    expect(values(train.w)).toEqual([Math.fround(2 * Math.fround(0.1)), 1.5, 0]);
    const unweighted: Dataset = { rows: 2, featureCount: 0, x: new Float32Array(0), y: Float32Array.of(1, 0) };
    weighTraining(unweighted, Float64Array.of(0, 0));
    expect(values(unweighted.w)).toEqual([0, 0]);
    expect(dataError(() => checkSomeWeight(unweighted, 'd.csv', 'classWeight'))).toBe('d.csv: all 2 training rows weigh 0 (classWeight); a run would learn nothing');
  });
});

describe('prepareData with data.sampleWeight and classWeight (tables)', () => {
  it('training rows weigh sampleWeight × classWeight; validation rows sampleWeight alone', () => {
    const file = write('t.csv', table([['1', '2'], ['0', '0.5'], ['1', '1'], ['0', '3']]));
    const prepared = prepareData(tableJob(file, { data: { sampleWeight: 'w' }, classWeight: { '1': 4 }, validationSplit: 0.25 }));
    expect(values(prepared.train.w)).toEqual([8, 0.5, 4]);
    expect(values(prepared.validation.w)).toEqual([3]);
    // The weight column is not a feature.
    expect(prepared.train.featureCount).toBe(2);
  });

  it('"balanced" counts the classes of the training split only', () => {
    const file = write('t.csv', table([['1', '1'], ['0', '1'], ['0', '1'], ['0', '1'], ['1', '1'], ['1', '1']]));
    const prepared = prepareData(tableJob(file, { classWeight: 'balanced', validationSplit: 1 / 3 }));
    // Training rows 1, 0, 0, 0: 4 / (2 × 3) for class 0 and 4 / (2 × 1) for class 1.
    expect(values(prepared.train.w)).toEqual([2, Math.fround(4 / 6), Math.fround(4 / 6), Math.fround(4 / 6)]);
    expect(prepared.validation.w).toBeUndefined();
  });

  it('a job without weights has none, and a regression target takes sampleWeight too', () => {
    const file = write('t.csv', table([['1.5', '2'], ['-3', '0.25']]));
    expect(prepareData(tableJob(file, { loss: 'meanSquaredError' })).train.w).toBeUndefined();
    const prepared = prepareData(tableJob(file, { loss: 'meanSquaredError', data: { sampleWeight: 'w' } }));
    expect(values(prepared.train.w)).toEqual([2, 0.25]);
    expect(values(prepared.train.y)).toEqual([1.5, -3]);
  });

  it('a file to evaluate (readNewData) takes its sample weights, never class weights', () => {
    const file = write('t.csv', table([['1', '2'], ['0', '0.5']]));
    const { data } = readNewData({ ...tableJob(file, { data: { sampleWeight: 'w' } }) }, {});
    expect(values(data.w)).toEqual([2, 0.5]);
  });

  it('refuses a missing weight column, naming the file, the column and data.sampleWeight', () => {
    const file = write('t.csv', 'a,b,y\n1,2,1\n');
    expect(dataError(() => prepareData(tableJob(file, { data: { sampleWeight: 'weight' } })))).toBe(
      `${file}: no column "weight" (named in data.sampleWeight); the header has a, b, y`,
    );
  });

  it.each([
    ['abc', '"abc" is not a number'],
    ['', '"" is not a number'],
    ['NaN', '"NaN" is not a number'],
    ['-Infinity', '"-Infinity" is not finite'],
    ['-2', '"-2" is negative'],
  ])('refuses the weight %j, naming file:line and the column', (cell, reason) => {
    const file = write('t.csv', table([['1', '1'], ['0', cell], ['1', '1']]));
    expect(dataError(() => prepareData(tableJob(file, { data: { sampleWeight: 'w' } })))).toBe(
      `${file}:3: column "w" (data.sampleWeight): ${reason}; a sample weight is a finite number >= 0`,
    );
  });

  it('refuses a classWeight key that is not a label, and training rows that all weigh 0', () => {
    const file = write('t.csv', table([['1', '0'], ['0', '0'], ['1', '1']]));
    expect(configError(() => prepareData(tableJob(file, { classWeight: { '0': 1, '2': 5 } })))).toBe(
      `classWeight: "2" is not a label of ${file}; its labels are [0, 1]`,
    );
    expect(dataError(() => prepareData(tableJob(file, { data: { sampleWeight: 'w' }, validationSplit: 0.34 })))).toBe(
      `${file}: the 1 training row weighs 0 (data.sampleWeight "w"); a run would learn nothing`,
    );
    expect(dataError(() => prepareData(tableJob(file, { data: { sampleWeight: 'w' }, classWeight: { '1': 0 } })))).toBe(
      `${file}: all 3 training rows weigh 0 (data.sampleWeight "w" × classWeight); a run would learn nothing`,
    );
  });
});

function textSpec(file: string, overrides: Partial<TextDataSpec> = {}): TextDataSpec {
  return {
    type: 'text',
    path: file,
    textField: 'text',
    labelField: 'label',
    tokenizer: { numWords: 100, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS },
    maxLength: 3,
    padding: 'pre',
    truncating: 'pre',
    badRows: 'fail',
    unknownLabels: 'fail',
    ...overrides,
  };
}

function textJob(data: TextDataSpec, extra: Partial<DataConfig> = {}): DataConfig {
  return {
    data,
    validationSplit: 0,
    loss: 'sparseCategoricalCrossentropy',
    model: [
      { type: 'embedding', inputDim: 100, outputDim: 2 },
      { type: 'globalAveragePooling1d' },
      { type: 'dense', units: 2, activation: 'softmax', useBias: true },
    ],
    ...extra,
  };
}

const jsonl = (rows: Record<string, unknown>[]): string => rows.map((r) => JSON.stringify(r)).join('\n');

describe('prepareData with sample weights (text)', () => {
  it('reads a JSONL field (a number or a numeric string) and a CSV column, with class weights by label name', () => {
    const file = write('t.jsonl', jsonl([{ text: 'good day', label: 'pos', w: 2 }, { text: 'bad day', label: 'neg', w: '0.5' }]));
    const prepared = prepareData(textJob(textSpec(file, { sampleWeight: 'w' }), { classWeight: { pos: 3 } }));
    expect(prepared.labels).toEqual(['neg', 'pos']);
    expect(values(prepared.train.w)).toEqual([6, 0.5]);
    const csvFile = write('t.csv', 'text,label,w\ngood day,pos,2\nbad day,neg,0.5\n');
    expect(values(prepareData(textJob(textSpec(csvFile, { sampleWeight: 'w' }))).train.w)).toEqual([2, 0.5]);
  });

  it('a bad weight is a bad row: it fails with badRows "fail", naming file:line and the field, and is left out with "skip"', () => {
    const rows = [{ text: 'good day', label: 'pos', w: 1 }, { text: 'bad day', label: 'neg', w: -1 }, { text: 'so so', label: 'neg' }, { text: 'fine', label: 'neg', w: 1 }];
    const file = write('t.jsonl', jsonl(rows));
    expect(dataError(() => prepareData(textJob(textSpec(file, { sampleWeight: 'w' }))))).toBe(
      `${file}:2: sample weight field "w" (data.sampleWeight): -1 is negative; a sample weight is a finite number >= 0`,
    );
    const prepared = prepareData(textJob(textSpec(file, { sampleWeight: 'w', badRows: 'skip' })));
    expect(prepared.train.rows).toBe(2);
    expect(prepared.badRows?.examples).toEqual([
      `${file}:2: sample weight field "w" (data.sampleWeight): -1 is negative; a sample weight is a finite number >= 0`,
      `${file}:3: missing sample weight field "w" (data.sampleWeight)`,
    ]);
    const csvFile = write('t.csv', 'text,label\ngood day,pos\n');
    expect(dataError(() => prepareData(textJob(textSpec(csvFile, { sampleWeight: 'w' }))))).toBe(
      `${csvFile}: no column "w" (named in data.sampleWeight); the header has text, label`,
    );
  });
});

describe('prepareData with validationData', () => {
  it('reads a table file with the training split\'s normalisation and labels, and its sample weights', () => {
    const train = write('train.csv', 'a,b,y,w\n0,10,low,1\n2,10,high,2\n4,16,low,1\n');
    const valid = write('valid.csv', 'a,b,y,w\n1,12,high,3\n');
    const config = tableJob(train, {
      loss: 'sparseCategoricalCrossentropy',
      units: 2,
      data: { normalize: true, sampleWeight: 'w' },
      classWeight: { high: 5 },
      validationData: { path: valid },
    });
    const prepared = prepareData(config);
    expect(prepared.train.rows).toBe(3);
    expect(prepared.labels).toEqual(['high', 'low']);
    expect(prepared.normalization?.mean).toEqual([2, 12]);
    expect(values(prepared.validation.y)).toEqual([0]);
    // (1 - 2) / std(0, 2, 4) and (12 - 12) / std(10, 10, 16).
    expect(values(prepared.validation.x)).toEqual([Math.fround(-1 / Math.sqrt(8 / 3)), 0]);
    // Validation is never class-weighted.
    expect(values(prepared.validation.w)).toEqual([3]);
    expect(values(prepared.train.w)).toEqual([1, 10, 1]);
  });

  it('names the validation file for a label outside the training split\'s set, and skips it with unknownLabels "skip"', () => {
    const train = write('train.csv', 'a,b,y\n0,1,low\n1,1,high\n');
    const valid = write('valid.csv', 'a,b,y\n1,2,low\n3,4,mid\n');
    const config = (unknownLabels: 'fail' | 'skip') =>
      tableJob(train, { loss: 'sparseCategoricalCrossentropy', units: 2, data: { unknownLabels }, validationData: { path: valid } });
    expect(dataError(() => prepareData(config('fail')))).toBe(
      `1 row has a label outside the label set [high, low]; first: ${valid}:3 column "y" label "mid"; the label set is the training split's: list every class in data.labels, or set data.unknownLabels to "skip"`,
    );
    const prepared = prepareData(config('skip'));
    expect(prepared.validation.rows).toBe(1);
    expect(prepared.badRows?.examples).toEqual([`${valid}:3: column "y": label "mid" is outside the label set [high, low]`]);
  });

  it('encodes a text file with the training split\'s tokenizer, its format from its extension', () => {
    const train = write('train.csv', 'text,label\ngood day,pos\nbad night,neg\n');
    const valid = write('valid.jsonl', jsonl([{ text: 'good night owl', label: 'neg' }]));
    const prepared = prepareData(textJob(textSpec(train), { validationData: { path: valid } }));
    const words = prepared.tokenizer!.words;
    // "owl" is not in the training vocabulary: it is the OOV token (1).
    expect(values(prepared.validation.x)).toEqual([words.indexOf('good') + 1, words.indexOf('night') + 1, 1]);
    expect(words).not.toContain('owl');
    expect(values(prepared.validation.y)).toEqual([0]);
  });

  it('refuses jsonl for a table', () => {
    const train = write('train.csv', 'a,b,y\n0,1,1\n');
    expect(configError(() => prepareData(tableJob(train, { validationData: { path: train, format: 'jsonl' } })))).toBe(
      'validationData.format: table data is read from CSV files; "jsonl" is for text data',
    );
  });
});
