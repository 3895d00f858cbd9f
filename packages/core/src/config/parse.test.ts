import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { chunkSizeOf, loadJobConfig, parseJobConfig } from './parse.js';

const minimal = {
  model: [{ type: 'dense', units: 1, inputShape: [2] }],
  loss: 'meanSquaredError',
  data: { path: 'data.csv', features: ['a', 'b'], target: 'y' },
};

const configError = (fn: () => unknown): ConfigError => thrown(fn, ConfigError, 'E_CONFIG');

describe('parseJobConfig', () => {
  it('fills in the documented defaults', () => {
    const config = parseJobConfig(minimal, 'job.json');
    expect(config.optimizer).toEqual({ type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false });
    expect(config.batchSize).toBe(32);
    expect(config.chunkSize).toBeUndefined();
    expect(config.metrics).toEqual([]);
    expect(config.shuffle).toBe(true);
    expect(config.backend).toBe('auto');
    expect(config.epochs).toBe(1);
    expect(config.seed).toBe(0);
    expect(config.validationSplit).toBe(0);
    expect(config.data).toEqual({ type: 'table', format: 'csv', path: 'data.csv', features: ['a', 'b'], target: 'y', normalize: true, unknownLabels: 'fail' });
    expect(config.model).toEqual([{ type: 'dense', units: 1, activation: 'linear', useBias: true, inputShape: [2] }]);
  });

  it('fills in the Adam defaults that a partial optimizer leaves out', () => {
    const config = parseJobConfig({ ...minimal, optimizer: { adam: { learningRate: 0.01 } } }, 'job.json');
    expect(config.optimizer).toEqual({ type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false });
  });

  it('keeps the values it is given', () => {
    const config = parseJobConfig(
      { ...minimal, batchSize: 8, chunkSize: 3, metrics: ['mae'], shuffle: false, backend: 'cpu', epochs: 5, seed: 17, validationSplit: 0.25 },
      'job.json',
    );
    expect(config).toMatchObject({ batchSize: 8, chunkSize: 3, metrics: ['mae'], shuffle: false, backend: 'cpu', epochs: 5, seed: 17, validationSplit: 0.25 });
  });

  it('names the source and the field path of a bad value', () => {
    const model = [{ type: 'dense', units: 4, inputShape: [2] }, { type: 'dense', units: 0 }];
    const error = configError(() => parseJobConfig({ ...minimal, model }, 'jobs/house.json'));
    expect(error.message).toMatch(/^jobs\/house\.json: model\[1\]\.units: /);
  });

  it('names a nested field inside an object', () => {
    const error = configError(() => parseJobConfig({ ...minimal, optimizer: { adam: { beta1: 1 } } }, 'job.json'));
    expect(error.message).toMatch(/^job\.json: optimizer\.adam\.beta1: /);
  });

  it('lists the layer types on an unknown layer type', () => {
    const error = configError(() => parseJobConfig({ ...minimal, model: [{ type: 'conv2d', filters: 3 }] }, 'job.json'));
    expect(error.message).toBe(
      'job.json: model[0].type: unknown layer type "conv2d"; expected one of dense, embedding, lstm, gru, bidirectional, dropout, globalAveragePooling1d, globalMaxPooling1d',
    );
  });

  it('names unknown fields, at the top level and nested', () => {
    expect(configError(() => parseJobConfig({ ...minimal, epoch: 3 }, 'job.json')).message).toBe('job.json: (top level): unknown field "epoch"');
    expect(configError(() => parseJobConfig({ ...minimal, epoch: 3, lr: 1 }, 'job.json')).message).toBe(
      'job.json: (top level): unknown fields "epoch", "lr"',
    );
    const data = { ...minimal.data, delimiter: ';' };
    expect(configError(() => parseJobConfig({ ...minimal, data }, 'job.json')).message).toBe('job.json: data: unknown field "delimiter"');
  });

  it('reports the first problem and counts the rest', () => {
    const error = configError(() => parseJobConfig({ ...minimal, batchSize: 'big', epochs: -1 }, 'job.json'));
    expect(error.message).toMatch(/^job\.json: batchSize: .* \(and 1 more\)$/);
  });

  it('rejects a config that is not an object', () => {
    expect(configError(() => parseJobConfig(null, 'job.json')).message).toMatch(/^job\.json: \(top level\): /);
  });

  it('requires a sigmoid dense(1) last layer for binaryCrossentropy', () => {
    const message = 'job.json: loss: binaryCrossentropy needs a last layer of dense, units 1, activation "sigmoid"';
    const bce = { ...minimal, loss: 'binaryCrossentropy' };
    expect(configError(() => parseJobConfig(bce, 'job.json')).message).toBe(message);
    const twoUnits = [{ type: 'dense', units: 2, activation: 'sigmoid', inputShape: [2] }];
    expect(configError(() => parseJobConfig({ ...bce, model: twoUnits }, 'job.json')).message).toBe(message);
    const ok = parseJobConfig({ ...bce, model: [{ type: 'dense', units: 1, activation: 'sigmoid', inputShape: [2] }] }, 'job.json');
    expect(ok.loss).toBe('binaryCrossentropy');
  });

  it('rejects a model that starts with dropout, a late inputShape, or a late embedding', () => {
    const dense = { type: 'dense', units: 1 };
    expect(configError(() => parseJobConfig({ ...minimal, model: [{ type: 'dropout', rate: 0.5 }, dense] }, 'job.json')).message).toBe(
      'job.json: model[0]: a model cannot start with dropout',
    );
    expect(configError(() => parseJobConfig({ ...minimal, model: [dense, { ...dense, inputShape: [3] }] }, 'job.json')).message).toBe(
      'job.json: model[1].inputShape: only the first layer takes an inputShape',
    );
    const embedding = { type: 'embedding', inputDim: 10, outputDim: 4 };
    expect(configError(() => parseJobConfig({ ...minimal, model: [dense, embedding, dense] }, 'job.json')).message).toBe(
      'job.json: model[1]: an embedding must be the first layer',
    );
  });
});

describe('parseJobConfig, sequence models and text data', () => {
  const text = {
    model: [
      { type: 'embedding', inputDim: 100, outputDim: 4 },
      { type: 'lstm', units: 3 },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binaryCrossentropy',
    data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: 100 }, maxLength: 10 },
  };

  it('accepts an embedding-lstm-dense text model and fills the text defaults', () => {
    const config = parseJobConfig(text, 'job.json');
    expect(config.data).toMatchObject({ type: 'text', textField: 'text', labelField: 'label', padding: 'pre', truncating: 'pre', badRows: 'skip' });
    expect(config.data.type === 'text' && config.data.tokenizer.oovToken).toBe('<OOV>');
  });

  it('refuses a dense layer right after a sequence output', () => {
    const model = [text.model[0], { type: 'dense', units: 1, activation: 'sigmoid' }];
    expect(configError(() => parseJobConfig({ ...text, model }, 'job.json')).message).toBe(
      'job.json: model[1]: a dense layer cannot follow a sequence output (embedding); end the sequence with a recurrent layer without returnSequences, or a global pooling layer',
    );
  });

  it('refuses an lstm without a sequence input', () => {
    const model = [{ type: 'dense', units: 4, inputShape: [3] }, { type: 'lstm', units: 2 }, { type: 'dense', units: 1 }];
    expect(configError(() => parseJobConfig({ ...minimal, model }, 'job.json')).message).toBe(
      'job.json: model[1]: an lstm needs a sequence input (an embedding, or a recurrent layer with returnSequences), but gets a vector from dense',
    );
  });

  it('refuses a vocabulary larger than the embedding', () => {
    const data = { ...text.data, tokenizer: { numWords: 500 } };
    expect(configError(() => parseJobConfig({ ...text, data }, 'job.json')).message).toMatch(/model\[0\]\.inputDim is 100, but data\.tokenizer\.numWords 500/);
  });

  it('names the data type, not a layer, when data.type is unknown', () => {
    const data = { ...text.data, type: 'images' };
    expect(configError(() => parseJobConfig({ ...text, data }, 'job.json')).message).toBe(
      'job.json: data.type: unknown data.type "images"; expected one of table, text',
    );
  });
});

describe('parseJobConfig, recurrent, bidirectional and pooling layers', () => {
  const embedding = { type: 'embedding', inputDim: 100, outputDim: 4 };
  const softmax = { type: 'dense', units: 3, activation: 'softmax' };
  const job = (model: unknown[], extra: Record<string, unknown> = {}) => ({
    model,
    loss: 'sparseCategoricalCrossentropy',
    data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: 100 }, maxLength: 10 },
    ...extra,
  });
  const message = (config: unknown) => configError(() => parseJobConfig(config, 'job.json')).message;

  it('accepts embedding, dropout, a bidirectional gru stack, pooling, dropout and dense layers, and fills their defaults', () => {
    const config = parseJobConfig(
      job([
        embedding,
        { type: 'dropout', rate: 0.2 },
        { type: 'bidirectional', layer: { type: 'gru', units: 8, returnSequences: true } },
        { type: 'lstm', units: 4, returnSequences: true },
        { type: 'globalMaxPooling1d' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 16, activation: 'relu' },
        softmax,
      ]),
      'job.json',
    );
    expect(config.model[2]).toEqual({
      type: 'bidirectional',
      mergeMode: 'concat',
      layer: { type: 'gru', units: 8, returnSequences: true, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false },
    });
    const gru = parseJobConfig(job([{ type: 'gru', units: 2, inputShape: [5, 2] }, softmax], { data: minimal.data }), 'job.json').model[0];
    expect(gru).toEqual({ type: 'gru', units: 2, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false, inputShape: [5, 2] });
  });

  it('refuses resetAfter true, which no stock tfjs GRU implements', () => {
    expect(message(job([embedding, { type: 'gru', units: 2, resetAfter: true }, softmax]))).toBe(
      "job.json: model[1].resetAfter: tfjs's GRU applies the reset gate before the recurrent matMul only; set resetAfter false",
    );
    expect(message(job([embedding, { type: 'bidirectional', layer: { type: 'gru', units: 2, resetAfter: true } }, softmax]))).toBe(
      "job.json: model[1].layer.resetAfter: tfjs's GRU applies the reset gate before the recurrent matMul only; set resetAfter false",
    );
  });

  it('refuses an inputShape on the wrapped layer, and a bidirectional around anything but lstm or gru', () => {
    expect(message(job([{ type: 'bidirectional', layer: { type: 'gru', units: 2, inputShape: [3, 1] } }, softmax]))).toBe(
      'job.json: model[0].layer: unknown field "inputShape"',
    );
    expect(message(job([embedding, { type: 'bidirectional', layer: { type: 'dense', units: 2 } }, softmax]))).toMatch(/^job\.json: model\[1\]\.layer\.type: /);
  });

  it('follows sequences through dropout: a dense after embedding and dropout is refused, naming the embedding', () => {
    expect(message(job([embedding, { type: 'dropout', rate: 0.1 }, softmax]))).toBe(
      'job.json: model[2]: a dense layer cannot follow a sequence output (embedding); end the sequence with a recurrent layer without returnSequences, or a global pooling layer',
    );
  });

  it('refuses pooling and recurrent layers without a sequence input, and pooling or dropout as the first layer', () => {
    expect(message(job([embedding, { type: 'gru', units: 2 }, { type: 'globalAveragePooling1d' }, softmax]))).toBe(
      'job.json: model[2]: globalAveragePooling1d needs a sequence input, but gets a vector from gru',
    );
    expect(message(job([embedding, { type: 'globalMaxPooling1d' }, { type: 'dropout', rate: 0.1 }, { type: 'bidirectional', layer: { type: 'lstm', units: 2 } }, softmax]))).toBe(
      'job.json: model[3]: a bidirectional needs a sequence input (an embedding, or a recurrent layer with returnSequences), but gets a vector from globalMaxPooling1d',
    );
    expect(message(job([{ type: 'globalMaxPooling1d' }, softmax]))).toBe('job.json: model[0]: a model cannot start with globalMaxPooling1d');
  });

  it('refuses a model that ends in a sequence', () => {
    expect(message({ ...minimal, model: [{ type: 'lstm', units: 2, returnSequences: true, inputShape: [2, 1] }] })).toBe(
      'job.json: model[0]: the model ends in a sequence (lstm), but must end in one vector per sample; end the sequence with a recurrent layer without returnSequences, or a global pooling layer',
    );
    expect(message({ ...minimal, model: [{ type: 'bidirectional', layer: { type: 'gru', units: 2, returnSequences: true }, inputShape: [2, 1] }, { type: 'dropout', rate: 0.5 }] })).toBe(
      'job.json: model[1]: the model ends in a sequence (bidirectional), but must end in one vector per sample; end the sequence with a recurrent layer without returnSequences, or a global pooling layer',
    );
  });

  it('refuses a first dense layer with a multi-axis inputShape', () => {
    expect(message({ ...minimal, model: [{ type: 'dense', units: 1, inputShape: [1, 2] }] })).toBe(
      'job.json: model[0].inputShape: a first dense layer reads one row of features, [features]; got [1,2]',
    );
  });
});

describe('parseJobConfig, heads, losses and metrics', () => {
  const dense = (units: number, activation: string) => [{ type: 'dense', units: 4, inputShape: [2] }, { type: 'dense', units, activation }];
  const job = (loss: string, model: unknown[], metrics: string[] = []) => ({ ...minimal, loss, model, metrics });
  const message = (config: unknown) => configError(() => parseJobConfig(config, 'job.json')).message;

  it('accepts each classification loss with its head, and regression losses with any non-softmax head', () => {
    expect(parseJobConfig(job('binaryCrossentropy', dense(1, 'sigmoid'), ['accuracy', 'auc', 'precision', 'recall']), 'job.json').metrics).toHaveLength(4);
    for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy']) {
      expect(parseJobConfig(job(loss, dense(2, 'softmax'), ['accuracy']), 'job.json').loss).toBe(loss);
    }
    for (const loss of ['meanSquaredError', 'meanAbsoluteError', 'huber']) {
      for (const activation of ['linear', 'relu', 'sigmoid', 'tanh']) expect(parseJobConfig(job(loss, dense(1, activation), ['mae']), 'job.json').loss).toBe(loss);
    }
  });

  it('needs a softmax head of two or more units for the categorical losses', () => {
    for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy']) {
      const expected = `job.json: loss: ${loss} needs a last layer of dense, activation "softmax", units ≥ 2 (one per class)`;
      expect(message(job(loss, dense(1, 'sigmoid')))).toBe(expected);
      expect(message(job(loss, dense(1, 'softmax')))).toBe(expected);
      expect(message(job(loss, dense(3, 'linear')))).toBe(expected);
    }
  });

  it('refuses a softmax head with a regression loss (it would broadcast the scalar target silently)', () => {
    for (const loss of ['meanSquaredError', 'meanAbsoluteError', 'huber']) {
      expect(message(job(loss, dense(3, 'softmax')))).toBe(
        `job.json: loss: ${loss} regresses numbers, but the last layer is a softmax over classes; use sparseCategoricalCrossentropy or categoricalCrossentropy`,
      );
    }
  });

  it('needs the binary head for auc, precision and recall', () => {
    for (const metric of ['auc', 'precision', 'recall']) {
      const expected = `job.json: metrics: ${metric} needs a binary head: a last layer of dense, units 1, activation "sigmoid"`;
      expect(message(job('sparseCategoricalCrossentropy', dense(3, 'softmax'), ['accuracy', metric]))).toBe(expected);
      expect(message(job('meanSquaredError', dense(1, 'linear'), [metric]))).toBe(expected);
    }
  });

  it('needs a classification loss for text data, and takes any of them', () => {
    const text = {
      model: [{ type: 'embedding', inputDim: 100, outputDim: 4 }, { type: 'lstm', units: 3 }, { type: 'dense', units: 1, activation: 'linear' }],
      loss: 'meanSquaredError',
      data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: 100 }, maxLength: 10 },
    };
    expect(message(text)).toBe('job.json: loss: text data has class labels; use one of binaryCrossentropy, sparseCategoricalCrossentropy, categoricalCrossentropy, not meanSquaredError');
    const softmax = [text.model[0], text.model[1], { type: 'dense', units: 4, activation: 'softmax' }];
    for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy']) expect(parseJobConfig({ ...text, loss, model: softmax }, 'job.json').loss).toBe(loss);
  });
});

describe('chunkSizeOf', () => {
  it('defaults to a quarter of the batch, rounded up', () => {
    expect(chunkSizeOf({ batchSize: 32 })).toBe(8);
    expect(chunkSizeOf({ batchSize: 10 })).toBe(3);
    expect(chunkSizeOf({ batchSize: 1 })).toBe(1);
  });

  it('uses an explicit chunkSize, capped at the batch size', () => {
    expect(chunkSizeOf({ batchSize: 32, chunkSize: 5 })).toBe(5);
    expect(chunkSizeOf({ batchSize: 32, chunkSize: 100 })).toBe(32);
  });
});

describe('loadJobConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a config and resolves data.path against the config file folder', () => {
    mkdirSync(path.join(dir, 'jobs'));
    const file = path.join(dir, 'jobs', 'job.json');
    writeFileSync(file, JSON.stringify({ ...minimal, data: { ...minimal.data, path: '../data/train.csv' } }));
    const config = loadJobConfig(file);
    expect(config.data.path).toBe(path.join(dir, 'data', 'train.csv'));
    expect(config.batchSize).toBe(32);
  });

  it('resolves data.path when the config file itself is named relative to the working folder', () => {
    const file = path.join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(minimal));
    expect(loadJobConfig(path.relative(process.cwd(), file)).data.path).toBe(path.join(dir, 'data.csv'));
  });

  it('keeps an absolute data.path', () => {
    const file = path.join(dir, 'job.json');
    const absolute = path.join(os.tmpdir(), 'elsewhere', 'train.csv');
    writeFileSync(file, JSON.stringify({ ...minimal, data: { ...minimal.data, path: absolute } }));
    expect(loadJobConfig(file).data.path).toBe(absolute);
  });

  it('names the file when the JSON is invalid', () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{ "model": [ ');
    expect(configError(() => loadJobConfig(file)).message).toMatch(new RegExp(`^${escapeRegExp(file)}: not valid JSON: `));
  });

  it('names the file when it is missing', () => {
    const file = path.join(dir, 'missing.json');
    expect(configError(() => loadJobConfig(file)).message).toBe(`${file}: cannot read config: no such file`);
  });

  it('names the file in schema errors', () => {
    const file = path.join(dir, 'job.json');
    writeFileSync(file, JSON.stringify({ ...minimal, batchSize: 0 }));
    expect(configError(() => loadJobConfig(file)).message).toMatch(new RegExp(`^${escapeRegExp(file)}: batchSize: `));
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
