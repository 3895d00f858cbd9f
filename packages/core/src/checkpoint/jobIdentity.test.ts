import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadJobConfig } from '../config/parse.js';
import type { JobConfig } from '../config/schema.js';
import type { PreparedData } from '../data/dataset.js';
import { prepareData } from '../data/prepare.js';
import { dataDigest, firstMathematicalDifference, jobIdOf } from './jobIdentity.js';

const housing = fileURLToPath(new URL('../../../../examples/housing/job.json', import.meta.url));

/** The prepared data with the training rows weighed by `w(r)`. */
function weighed(data: PreparedData, w: (r: number) => number): PreparedData {
  return { ...data, train: { ...data.train, w: Float32Array.from({ length: data.train.rows }, (_, r) => w(r)) } };
}

describe('the job identity with sample weights and validation files', () => {
  const config = loadJobConfig(housing);
  const data = prepareData(config);

  it('a job without the new fields keeps the identity it had before them', () => {
    // The housing example's jobId at commit 17cd8d6, before weights and validation files existed.
    expect(jobIdOf(config, data)).toBe('bc4c334d647c86690f7955c8f446ac2d');
  });

  it('changes with the weights, even when only one row weighs otherwise', () => {
    const ones = weighed(data, () => 1);
    const one = weighed(data, (r) => (r === 7 ? 2 : 1));
    expect(new Set([dataDigest(data), dataDigest(ones), dataDigest(one)]).size).toBe(3);
    expect(jobIdOf(config, one)).not.toBe(jobIdOf(config, ones));
  });

  it('names classWeight, data.sampleWeight and validationData where a resumed config differs, but not the validation file\'s place', () => {
    const withWeights: JobConfig = { ...config, classWeight: { '1': 2 } };
    expect(firstMathematicalDifference(config, withWeights)).toBe('classWeight');
    expect(firstMathematicalDifference(withWeights, { ...config, classWeight: 'balanced' })).toBe('classWeight');
    expect(firstMathematicalDifference(config, { ...config, data: { ...config.data, sampleWeight: 'w' } })).toBe('data.sampleWeight');
    const valid = path.join(path.dirname(housing), 'valid.csv');
    const held: JobConfig = { ...config, validationSplit: 0, validationData: { path: valid } };
    expect(firstMathematicalDifference({ ...config, validationSplit: 0 }, held)).toBe('validationData');
    // The file may move: its rows are hashed with the data instead.
    expect(firstMathematicalDifference(held, { ...held, validationData: { path: '/elsewhere/valid.csv' } })).toBeUndefined();
    expect(firstMathematicalDifference(held, { ...held, validationData: { path: valid, format: 'csv' } })).toBe('validationData.format');
  });
});
