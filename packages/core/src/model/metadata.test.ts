import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseJobConfig } from '../config/parse.js';
import { Tokenizer } from '../data/tokenizer.js';
import { DataError, ModelError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { buildModel } from './buildModel.js';
import { loadSavedModel, readDataFor } from './inference.js';
import { METADATA_JSON, readSavedMetadata, type SavedModelMetadata, savedLabels, savedNormalization, savedTokenizer, writeMetadata } from './metadata.js';
import { saveModel } from './modelio.js';

const tableConfig = parseJobConfig(
  {
    model: [{ type: 'dense', units: 1, inputShape: [2] }],
    loss: 'meanSquaredError',
    optimizer: { adam: { learningRate: 0.01 } },
    data: { path: '/data/house.csv', features: ['a', 'b'], target: 'y' },
  },
  'job.json',
);

const tableMetadata = (): SavedModelMetadata => ({
  adamant: 1,
  config: tableConfig,
  featureNames: ['a', 'b'],
  normalization: { mean: [1, 2], std: [0.5, 3] },
  tokenizer: null,
  labels: null,
  summary: { epochs: [{ loss: 0.25 }], workers: 2 },
});

const classifierConfig = parseJobConfig(
  {
    model: [{ type: 'dense', units: 3, activation: 'softmax', inputShape: [2] }],
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    optimizer: { adam: {} },
    data: { path: '/data/iris.csv', features: ['a', 'b'], target: 'species' },
  },
  'job.json',
);

describe('adamant.json', () => {
  let dir: string;
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-metadata-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = () => path.join(dir, METADATA_JSON);

  it('is written as the given object, keys in a fixed order, and read back equal', () => {
    const metadata = tableMetadata();
    writeMetadata(dir, metadata);
    const text = readFileSync(file(), 'utf8');
    expect(text).toBe(`${JSON.stringify(metadata, null, 2)}\n`);
    expect(Object.keys(JSON.parse(text))).toEqual(['adamant', 'config', 'featureNames', 'normalization', 'tokenizer', 'labels', 'summary']);
    expect(readSavedMetadata(dir)).toEqual(metadata);
    expect(savedNormalization(dir)).toEqual({ mean: [1, 2], std: [0.5, 3] });
    expect(savedTokenizer(dir)).toBeUndefined();
  });

  it('carries a text job tokenizer', () => {
    const config = parseJobConfig(
      {
        model: [{ type: 'embedding', inputDim: 10, outputDim: 2 }, { type: 'lstm', units: 2 }, { type: 'dense', units: 1, activation: 'sigmoid' }],
        loss: 'binaryCrossentropy',
        data: { type: 'text', path: '/data/t.jsonl', tokenizer: { numWords: 10 }, maxLength: 4 },
      },
      'job.json',
    );
    if (config.data.type !== 'text') throw new Error('expected a text config');
    const tokenizer = Tokenizer.fit(['a b b c'], config.data.tokenizer).toJSON();
    writeMetadata(dir, { adamant: 1, config, featureNames: ['t0', 't1', 't2', 't3'], normalization: null, tokenizer, labels: ['0', '1'], summary: null });
    expect(savedTokenizer(dir)).toEqual(tokenizer);
    expect(savedNormalization(dir)).toBeUndefined();
  });

  it('is optional: a directory without it has no metadata', () => {
    expect(readSavedMetadata(dir)).toBeUndefined();
    expect(savedTokenizer(dir)).toBeUndefined();
  });

  it("carries a classifier's label set, in class order", () => {
    writeMetadata(dir, { ...tableMetadata(), config: classifierConfig, labels: ['setosa', 'virginica', 'versicolor'] });
    expect(readSavedMetadata(dir)?.labels).toEqual(['setosa', 'virginica', 'versicolor']);
    expect(savedLabels(dir)).toEqual(['setosa', 'virginica', 'versicolor']);
  });

  it('reads a file from before labels and text data, without a labels or a tokenizer field', () => {
    const { tokenizer: _, labels: __, ...old } = tableMetadata();
    writeFileSync(file(), JSON.stringify({ ...old, config: { ...tableConfig, optimizer: { adam: { learningRate: 0.01 } } } }));
    expect(readSavedMetadata(dir)).toEqual(tableMetadata());
  });

  it('is refused when it is not Adamant metadata, naming the file and the field', () => {
    const modelError = (fn: () => unknown): string => thrown(fn, ModelError, 'E_MODEL').message;
    writeFileSync(file(), JSON.stringify({ ...tableMetadata(), adamant: 2 }));
    expect(modelError(() => readSavedMetadata(dir))).toMatch(new RegExp(`^${escapeRegExp(file())}: not Adamant's metadata: adamant: `));
    writeFileSync(file(), JSON.stringify({ ...tableMetadata(), config: { ...tableConfig, loss: 'hinge' } }));
    expect(modelError(() => savedTokenizer(dir))).toMatch(/: not Adamant's metadata: config\.loss: /);
    writeFileSync(file(), '{ not json');
    expect(modelError(() => readSavedMetadata(dir))).toMatch(/: cannot read Adamant's metadata: /);
    expect(modelError(() => writeMetadata(dir, { ...tableMetadata(), featureNames: [1] as never }))).toMatch(/refusing to write metadata: featureNames\[0\]: /);
  });

  it('travels with a saved model, which loads back with its config and normalization', async () => {
    const model = buildModel(tableConfig.model, 0);
    await saveModel(model, dir, tableMetadata());
    const saved = await loadSavedModel(dir);
    expect(saved.config).toEqual(tableConfig);
    expect(saved.normalization).toEqual({ mean: [1, 2], std: [0.5, 3] });
    expect(saved.tokenizer).toBeUndefined();
    expect(Array.from(saved.model.getWeights()[0]!.dataSync())).toEqual(Array.from(model.getWeights()[0]!.dataSync()));
  });

  it('gives a saved classifier its label set, with which new files are read', async () => {
    await saveModel(buildModel(classifierConfig.model, 0), dir, {
      ...tableMetadata(),
      config: classifierConfig,
      labels: ['setosa', 'virginica', 'versicolor'],
    });
    const saved = await loadSavedModel(dir);
    expect(saved.labels).toEqual(['setosa', 'virginica', 'versicolor']);
    const file = path.join(dir, 'new.csv');
    // Only two of the three classes: the saved set still decides the class indices.
    writeFileSync(file, 'a,b,species\n2,5,versicolor\n1,2,setosa\n');
    const { data, skipped } = readDataFor(saved, file);
    expect(Array.from(data.y)).toEqual([2, 0]);
    expect(Array.from(data.x)).toEqual([2, 1, 0, 0]);
    expect(skipped).toEqual([]);
    writeFileSync(file, 'a,b,species\n2,5,versicolor\n1,2,rosa\n');
    expect(thrown(() => readDataFor(saved, file), DataError, 'E_DATA').message).toBe(
      `1 row has a label outside the label set [setosa, virginica, versicolor]; first: ${file}:3 column "species" label "rosa"; the model was trained on this label set`,
    );
  });

  it('is required to load a saved model', async () => {
    await saveModel(buildModel(tableConfig.model, 0), dir);
    await expect(loadSavedModel(dir)).rejects.toThrow(`${file()}: missing or not written by Adamant; evaluate and predict need it`);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
