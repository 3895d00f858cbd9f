import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseJobConfig } from '../config/parse.js';
import type { JobConfig } from '../config/schema.js';
import { prepareData } from '../data/prepare.js';
import { ModelError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { thrown } from '../thrown.testutil.js';
import { buildModel } from '../model/buildModel.js';
import { loadSavedModel, readDataFor } from '../model/inference.js';
import type { SavedModelMetadata } from '../model/metadata.js';
import { loadModel, MODEL_JSON, saveModel, WEIGHTS_BIN } from '../model/modelio.js';
import { exportMetadataOf } from './exportMetadata.js';
import { PREPROCESS_JS } from './preprocessModule.js';

type PreprocessModule = typeof import('./preprocess.js');

/** The copied preprocess.js, imported the way a page imports it: by URL, as a file of its own. */
const importPreprocess = (dir: string): Promise<PreprocessModule> => import(/* @vite-ignore */ pathToFileURL(path.join(dir, PREPROCESS_JS)).href);

/** The saved model loaded with plain tfjs: model.json and weights.bin as a page would fetch them, no Adamant code. */
async function loadPlain(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
  const weights = new Uint8Array(readFileSync(path.join(dir, WEIGHTS_BIN))).buffer;
  return tf.loadLayersModel(tf.io.fromMemory(tf.io.getModelArtifactsForJSONSync(json, json.weightsManifest[0]!.weights, weights)));
}

const metadataOf = (config: JobConfig, overrides: Partial<SavedModelMetadata> = {}): SavedModelMetadata => {
  const data = prepareData(config);
  return {
    adamant: 1,
    config,
    featureNames: data.featureNames,
    normalization: data.normalization ?? null,
    tokenizer: data.tokenizer ?? null,
    labels: data.labels ?? null,
    summary: null,
    ...overrides,
  };
};

describe('a saved model works without Adamant', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-export-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function tableJob(): JobConfig {
    // Columns in another order than data.features, and a column the model does not read.
    const random = mulberry32(3);
    const lines = ['tax,medv,note,rm,age'];
    for (let i = 0; i < 40; i++) lines.push(`${(200 + random() * 500).toFixed(1)},${(random() * 50).toFixed(2)},x,${(4 + random() * 4).toFixed(3)},${(random() * 100).toFixed(1)}`);
    writeFileSync(file('houses.csv'), `${lines.join('\n')}\n`);
    return parseJobConfig(
      {
        model: [{ type: 'dense', units: 5, activation: 'tanh', inputShape: [3] }, { type: 'dense', units: 1 }],
        loss: 'meanSquaredError',
        optimizer: { adam: {} },
        data: { path: file('houses.csv'), features: ['rm', 'age', 'tax'], target: 'medv' },
      },
      'job.json',
    );
  }

  it('a table model: its normalisation and feature order travel in model.json, and preprocess.js + plain tfjs predict as Adamant does', async () => {
    const config = tableJob();
    const metadata = metadataOf(config);
    await saveModel(buildModel(config.model, 4), dir, metadata);

    const { userDefinedMetadata } = JSON.parse(readFileSync(file(MODEL_JSON), 'utf8'));
    expect(userDefinedMetadata.adamant).toMatchObject({
      version: 1,
      input: { shape: [3], dtype: 'float32' },
      preprocessing: { type: 'table', features: ['rm', 'age', 'tax'], normalization: metadata.normalization, labels: null, head: { kind: 'linear', units: 1 } },
    });

    // Adamant's own inference: the saved model reading the CSV as its training data was read.
    const saved = await loadSavedModel(dir);
    const { data } = readDataFor(saved, file('houses.csv'));
    const adamant = tf.tidy(() => (saved.model.predict(tf.tensor2d(data.x, [data.rows, 3])) as tf.Tensor).dataSync());

    // Without Adamant: CSV rows as objects of strings keyed by the header, plain tfjs, preprocess.js.
    const [header, ...lines] = readFileSync(file('houses.csv'), 'utf8').trim().split('\n');
    const rows = lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header!.split(',')[i]!, cell])));
    const model = await loadPlain(dir);
    const preprocessor = (await importPreprocess(dir)).fromMetadata(model.getUserDefinedMetadata());
    const input = preprocessor.rows(rows);
    expect(input.data).toEqual(data.x);
    const plain = tf.tidy(() => (model.predict(tf.tensor(input.data, input.shape)) as tf.Tensor).dataSync());
    expect(plain.length).toBe(40);
    expect(new Set(plain).size).toBeGreaterThan(30);
    for (let i = 0; i < plain.length; i++) expect(Math.abs(plain[i]! - adamant[i]!)).toBeLessThanOrEqual(1e-6);
    expect(() => preprocessor.decode([plain[0]!])).toThrow(/linear head/);
  });

  it('a text model: the tokenizer and padding travel in model.json, and preprocess.js + plain tfjs predict as Adamant does', async () => {
    const random = mulberry32(11);
    const vocabulary = ['Free', 'prize!', 'meeting', 'build,', 'café', '😀', 'the', 'you', 'ΣΟΦΙΑ'];
    const texts = Array.from({ length: 30 }, () => Array.from({ length: 2 + Math.floor(random() * 12) }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(' '));
    writeFileSync(file('texts.jsonl'), texts.map((text, i) => JSON.stringify({ text, label: i % 2 ? 'spam' : 'ham' })).join('\n'));
    const config = parseJobConfig(
      {
        model: [{ type: 'embedding', inputDim: 8, outputDim: 4, inputLength: 6 }, { type: 'lstm', units: 3 }, { type: 'dense', units: 1, activation: 'sigmoid' }],
        loss: 'binaryCrossentropy',
        optimizer: { adam: {} },
        data: { type: 'text', path: file('texts.jsonl'), tokenizer: { numWords: 8 }, maxLength: 6, truncating: 'post', labels: ['ham', 'spam'] },
      },
      'job.json',
    );
    const metadata = metadataOf(config);
    await saveModel(buildModel(config.model, 9), dir, metadata);

    const fromTfjs = (await loadModel(dir)).getUserDefinedMetadata() as { adamant: Record<string, unknown> };
    expect(fromTfjs).toEqual(JSON.parse(readFileSync(file(MODEL_JSON), 'utf8')).userDefinedMetadata);
    expect(fromTfjs.adamant.preprocessing).toMatchObject({
      type: 'text',
      tokenizer: { ...metadata.tokenizer!.config, words: metadata.tokenizer!.words },
      maxLength: 6,
      padding: 'pre',
      truncating: 'post',
      labels: ['ham', 'spam'],
      head: { kind: 'sigmoid', units: 1 },
    });

    const saved = await loadSavedModel(dir);
    const { data } = readDataFor(saved, file('texts.jsonl'));
    const adamant = tf.tidy(() => (saved.model.predict(tf.tensor2d(data.x, [data.rows, 6])) as tf.Tensor).dataSync());
    const model = await loadPlain(dir);
    const preprocessor = (await importPreprocess(dir)).fromMetadata(model.getUserDefinedMetadata());
    const input = preprocessor.texts(texts);
    expect(input.data).toEqual(data.x);
    const plain = tf.tidy(() => (model.predict(tf.tensor(input.data, input.shape)) as tf.Tensor).dataSync());
    for (let i = 0; i < plain.length; i++) expect(Math.abs(plain[i]! - adamant[i]!)).toBeLessThanOrEqual(1e-6);
    expect(preprocessor.decodeAll(plain).map((d) => d.label)).toEqual(Array.from(plain, (p) => (p > 0.5 ? 'spam' : 'ham')));
  });

  it('preprocess.js is a standalone ES module: no imports, no source-map pointer, and the same code as the subpath export', async () => {
    const config = tableJob();
    await saveModel(buildModel(config.model, 4), dir, metadataOf(config));
    const source = readFileSync(file(PREPROCESS_JS), 'utf8');
    expect(source).toMatch(/^export function fromMetadata\(/m);
    expect(source).not.toMatch(/^\s*import\b|\bimport\s*\(|\brequire\s*\(|^\s*export\s.*\bfrom\s/m);
    expect(source).not.toContain('sourceMappingURL');
    // A data: URL can resolve no import at all, so this loads only a module that has none.
    const standalone = (await import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)) as PreprocessModule;
    expect(Object.keys(standalone).sort()).toEqual(['EXPORT_VERSION', 'PreprocessError', 'Preprocessor', 'fromMetadata']);
    const subpath = (await import('@adamant/core/preprocess')) as unknown as PreprocessModule;
    expect(Object.keys(subpath).sort()).toEqual(Object.keys(standalone).sort());
  });

  it('carries a classifier\'s label names and softmax head; a model saved without metadata carries none', async () => {
    const config = parseJobConfig(
      {
        model: [{ type: 'dense', units: 3, activation: 'softmax', inputShape: [2] }],
        loss: 'sparseCategoricalCrossentropy',
        optimizer: { adam: {} },
        data: { path: '/data/iris.csv', features: ['a', 'b'], target: 'species' },
      },
      'job.json',
    );
    const metadata: SavedModelMetadata = { adamant: 1, config, featureNames: ['a', 'b'], normalization: null, tokenizer: null, labels: ['setosa', 'virginica', 'versicolor'], summary: null };
    expect(exportMetadataOf(metadata, 3).adamant.preprocessing).toMatchObject({ labels: ['setosa', 'virginica', 'versicolor'], head: { kind: 'softmax', units: 3 } });
    await saveModel(buildModel(config.model, 1), dir);
    expect(JSON.parse(readFileSync(file(MODEL_JSON), 'utf8')).userDefinedMetadata).toBeUndefined();
    expect(existsSync(file(PREPROCESS_JS))).toBe(false);
  });

  it('refuses an export that preprocess.js could not read, before writing anything (E_MODEL)', async () => {
    const config = tableJob();
    const metadata = { ...metadataOf(config), normalization: { mean: [0, 0, 0], std: [1, 0, 1] } };
    const out = path.join(dir, 'out');
    const error = thrown(() => exportMetadataOf(metadata, 1), ModelError, 'E_MODEL');
    expect(error.message).toBe('model.json userDefinedMetadata.adamant.preprocessing.normalization.std[1]: is 0');
    await expect(saveModel(buildModel(config.model, 4), out, metadata)).rejects.toThrow(error.message);
    expect(existsSync(out)).toBe(false);
  });
});
