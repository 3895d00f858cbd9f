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
    expect(message({ rmsprop: {} })).toBe('job.json: optimizer: unknown optimizer "rmsprop"; expected one of adam, adamw, sgd');
    expect(message({ type: 'rmsprop' })).toBe('job.json: optimizer.type: unknown optimizer "rmsprop"; expected one of adam, adamw, sgd');
    expect(message({ adam: {}, sgd: {} })).toBe('job.json: optimizer: name one optimizer, not "adam", "sgd"; expected one of adam, adamw, sgd');
  });

  it('parses adamw and sgd with Keras\'s defaults', () => {
    expect(parse({ adamw: {} })).toEqual({ type: 'adamw', learningRate: 0.001, weightDecay: 0.004, excludeFromWeightDecay: [], beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(parse({ adamw: { weightDecay: 0.01, excludeFromWeightDecay: ['bias'], globalClipnorm: 1 } })).toMatchObject({ weightDecay: 0.01, excludeFromWeightDecay: ['bias'], globalClipnorm: 1 });
    expect(parse({ sgd: {} })).toEqual({ type: 'sgd', learningRate: 0.01, momentum: 0, nesterov: false });
    expect(parse({ sgd: { momentum: 0.9, nesterov: true, clipvalue: 0.5 } })).toEqual({ type: 'sgd', learningRate: 0.01, momentum: 0.9, nesterov: true, clipvalue: 0.5 });
    expect(parse({ adam: { clipnorm: 2 } })).toEqual({ ...adamDefaults, clipnorm: 2 });
  });

  it('takes a learning-rate schedule in place of a number, with the schedule\'s defaults filled in', () => {
    const cosine = { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 1000, warmupTarget: 0.001, warmupSteps: 100 };
    expect(parse({ adamw: { learningRate: cosine } })).toMatchObject({ learningRate: { ...cosine, alpha: 0 } });
    expect(parse({ adam: { learningRate: { schedule: 'exponentialDecay', initialLearningRate: 0.01, decaySteps: 100, decayRate: 0.9 } } })).toMatchObject({
      learningRate: { schedule: 'exponentialDecay', initialLearningRate: 0.01, decaySteps: 100, decayRate: 0.9, staircase: false },
    });
    const piecewise = { schedule: 'piecewiseConstantDecay', boundaries: [100, 200], values: [0.1, 0.01, 0.001] };
    expect(parse({ sgd: { learningRate: piecewise } })).toMatchObject({ learningRate: piecewise });
    expect(parse({ adam: { learningRate: { schedule: 'cosineDecay', initialLearningRate: 0.01, decaySteps: 10 } } })).toMatchObject({ learningRate: { alpha: 0, warmupSteps: 0 } });
    // A parsed schedule parses again to itself.
    const once = parseJobConfig({ ...minimal, optimizer: { adamw: { learningRate: cosine } } }, 'job.json');
    expect(parseJobConfig(JSON.parse(JSON.stringify(once)), 'job.json')).toEqual(once);
  });

  it('refuses a bad learning rate or schedule in one line naming the field', () => {
    expect(message({ adam: { learningRate: 0 } })).toBe('job.json: optimizer.adam.learningRate: Too small: expected number to be >0');
    expect(message({ adam: { learningRate: 'fast' } })).toBe('job.json: optimizer.adam.learningRate: expected a number > 0 or a schedule object');
    expect(message({ adam: { learningRate: { schedule: 'linear' } } })).toBe(
      'job.json: optimizer.adam.learningRate.schedule: unknown schedule "linear"; expected one of exponentialDecay, piecewiseConstantDecay, cosineDecay',
    );
    expect(message({ sgd: { learningRate: { initialLearningRate: 0.1 } } })).toBe(
      'job.json: optimizer.sgd.learningRate.schedule: a schedule needs "schedule"; expected one of exponentialDecay, piecewiseConstantDecay, cosineDecay',
    );
    expect(message({ adam: { learningRate: { schedule: 'exponentialDecay', initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.9 } } })).toBe(
      'job.json: optimizer.adam.learningRate.decaySteps: Too small: expected number to be >0',
    );
    expect(message({ adam: { learningRate: { schedule: 'cosineDecay', initialLearningRate: 0.1, decaySteps: 10, warmup: 5 } } })).toBe('job.json: optimizer.adam.learningRate: unknown field "warmup"');
    expect(message({ adamw: { learningRate: { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 10, warmupSteps: 5 } } })).toBe(
      'job.json: optimizer.adamw.learningRate.warmupSteps: a warmup needs "warmupTarget", the learning rate it climbs to',
    );
    expect(message({ sgd: { learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [10, 20], values: [0.1, 0.01] } } })).toBe(
      'job.json: optimizer.sgd.learningRate.values: has 2 values for 2 boundaries; needs one more value than boundaries',
    );
    expect(message({ sgd: { learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [10, 10], values: [0.1, 0.01, 0.001] } } })).toBe(
      'job.json: optimizer.sgd.learningRate.boundaries[1]: 10 does not exceed 10; boundaries must increase',
    );
    expect(message({ type: 'sgd', learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [1.5], values: [0.1, 0.01] } })).toBe(
      'job.json: optimizer.learningRate.boundaries[0]: expected int, received number',
    );
  });

  it('refuses more than one clipping mode, lazy embeddings outside Adam, and bad settings, naming the field', () => {
    expect(message({ adam: { clipnorm: 1, clipvalue: 0.5 } })).toBe('job.json: optimizer.adam: set one of clipnorm, globalClipnorm, clipvalue, not clipnorm and clipvalue (as in Keras)');
    expect(message({ type: 'sgd', globalClipnorm: 1, clipnorm: 1 })).toBe('job.json: optimizer: set one of clipnorm, globalClipnorm, clipvalue, not clipnorm and globalClipnorm (as in Keras)');
    expect(message({ adamw: { lazyEmbedding: true } })).toBe('job.json: optimizer.adamw.lazyEmbedding: lazy embedding updates exist for adam only; adamw updates every row');
    expect(message({ sgd: { lazyEmbedding: false } })).toMatch(/^job\.json: optimizer\.sgd\.lazyEmbedding: lazy embedding updates exist for adam only/);
    expect(message({ adam: { clipnorm: 0 } })).toBe('job.json: optimizer.adam.clipnorm: Too small: expected number to be >0');
    expect(message({ sgd: { momentum: 1.5 } })).toBe('job.json: optimizer.sgd.momentum: Too big: expected number to be <=1');
    expect(message({ adamw: { weightDecay: -0.1 } })).toBe('job.json: optimizer.adamw.weightDecay: Too small: expected number to be >=0');
    expect(message({ adamw: { excludeFromWeightDecay: 'bias' } })).toBe('job.json: optimizer.adamw.excludeFromWeightDecay: expected array, received string');
    expect(message({ sgd: { beta1: 0.9 } })).toBe('job.json: optimizer.sgd: unknown field "beta1"');
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
