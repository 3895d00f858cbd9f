import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { parseJobConfig } from './parse.js';

const minimal = {
  model: [{ type: 'dense', units: 1, inputShape: [2] }],
  loss: 'meanSquaredError',
  data: { path: 'data.csv', features: ['a', 'b'], target: 'y' },
};

const adamDefaults = { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };

const parse = (optimizer: unknown) => parseJobConfig({ ...minimal, optimizer }, 'job.json').optimizer;
const message = (optimizer: unknown): string => thrown(() => parse(optimizer), ConfigError, 'E_CONFIG').message;

describe('the optimizer block', () => {
  it('parses the keyed form users write into the tagged form', () => {
    expect(parse({ adam: { learningRate: 0.01, lazyEmbedding: true } })).toEqual({ ...adamDefaults, learningRate: 0.01, lazyEmbedding: true });
    expect(parse({ adam: {} })).toEqual(adamDefaults);
  });

  it('defaults to Adam with its defaults when absent or empty, a fresh object each time', () => {
    const a = parseJobConfig(minimal, 'job.json').optimizer;
    const b = parseJobConfig(minimal, 'job.json').optimizer;
    expect(a).toEqual(adamDefaults);
    expect(a).not.toBe(b);
    expect(parse({})).toEqual(adamDefaults);
  });

  it('accepts the tagged form, so a parsed config parses again to itself', () => {
    const once = parseJobConfig({ ...minimal, optimizer: { adam: { beta2: 0.99 } } }, 'job.json');
    const twice = parseJobConfig(JSON.parse(JSON.stringify(once)), 'job.json');
    expect(twice).toEqual(once);
    expect(parse({ type: 'adam', epsilon: 1e-5 })).toEqual({ ...adamDefaults, epsilon: 1e-5 });
  });

  it('refuses an unknown optimizer in one line that names optimizer and the known ones', () => {
    expect(message({ sgd: {} })).toBe('job.json: optimizer: unknown optimizer "sgd"; expected one of adam');
    expect(message({ type: 'sgd' })).toBe('job.json: optimizer.type: unknown optimizer "sgd"; expected one of adam');
    expect(message({ adam: {}, sgd: {} })).toBe('job.json: optimizer: name one optimizer, not "adam", "sgd"; expected one of adam');
  });

  it('names fields inside the keyed form where the user wrote them', () => {
    expect(message({ adam: { beta1: 1 } })).toMatch(/^job\.json: optimizer\.adam\.beta1: /);
    expect(message({ adam: { lr: 0.1 } })).toBe('job.json: optimizer.adam: unknown field "lr"');
    expect(message({ adam: 3 })).toBe('job.json: optimizer.adam: expected an object of adam settings');
    expect(message({ adam: { type: 'adam' } })).toBe('job.json: optimizer.adam: unknown field "type"');
    expect(message({ type: 'adam', lr: 0.1 })).toBe('job.json: optimizer: unknown field "lr"');
    expect(message(5)).toMatch(/^job\.json: optimizer: expected object/);
  });
});
