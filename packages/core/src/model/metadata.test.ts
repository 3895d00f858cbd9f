import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseJobConfig } from '../config/parse.js';
import { Tokenizer } from '../data/tokenizer.js';
import { ModelError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { buildModel } from './buildModel.js';
import { loadSavedModel } from './inference.js';
import { METADATA_JSON, readSavedMetadata, type SavedModelMetadata, savedNormalization, savedTokenizer, writeMetadata } from './metadata.js';
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
  summary: { epochs: [{ loss: 0.25 }], workers: 2 },
});

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
    expect(Object.keys(JSON.parse(text))).toEqual(['adamant', 'config', 'featureNames', 'normalization', 'tokenizer', 'summary']);
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
    writeMetadata(dir, { adamant: 1, config, featureNames: ['t0', 't1', 't2', 't3'], normalization: null, tokenizer, summary: null });
    expect(savedTokenizer(dir)).toEqual(tokenizer);
    expect(savedNormalization(dir)).toBeUndefined();
  });

  it('is optional: a directory without it has no metadata', () => {
    expect(readSavedMetadata(dir)).toBeUndefined();
    expect(savedTokenizer(dir)).toBeUndefined();
  });

  it('reads a file from before text data, without a tokenizer field', () => {
    const { tokenizer: _, ...old } = tableMetadata();
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

  it('is required to load a saved model', async () => {
    await saveModel(buildModel(tableConfig.model, 0), dir);
    await expect(loadSavedModel(dir)).rejects.toThrow(`${file()}: missing or not written by Adamant; evaluate and predict need it`);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
