import { createHash } from 'node:crypto';
import { chunkSizeOf } from '../config/parse.js';
import type { JobConfig } from '../config/schema.js';
import type { PreparedData } from '../data/dataset.js';

/**
 * The parts of a config that a run's numbers depend on, as a plain object. `epochs` (how far to
 * run), `backend` (how to run), `data.path` and `validationData.path` (where the data lies; its
 * content is hashed instead) are left out, so a resumed job may change them. Fields added since
 * (classWeight, validationData) appear only when set, so older jobs keep their identity.
 */
export function mathematicalConfig(config: JobConfig): Record<string, unknown> {
  const { path: _path, ...data } = config.data;
  const { path: _validationPath, ...validationData } = config.validationData ?? { path: '' };
  return {
    model: config.model,
    loss: config.loss,
    metrics: config.metrics,
    optimizer: config.optimizer,
    batchSize: config.batchSize,
    chunkSize: chunkSizeOf(config),
    seed: config.seed,
    shuffle: config.shuffle,
    validationSplit: config.validationSplit,
    ...(config.validationData ? { validationData } : {}),
    ...(config.classWeight !== undefined ? { classWeight: config.classWeight } : {}),
    data,
  };
}

/**
 * SHA-256 of the prepared rows (training and validation, inputs, targets and, when the job
 * weighs its samples, their weights), in hex. Unweighted data hashes as it always did.
 */
export function dataDigest(data: PreparedData): string {
  const hash = createHash('sha256');
  const bytes = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  for (const set of [data.train, data.validation]) {
    hash.update(`${set.rows}x${set.featureCount};`);
    hash.update(bytes(set.x));
    hash.update(bytes(set.y));
    if (set.w) hash.update('w;').update(bytes(set.w));
  }
  return hash.digest('hex');
}

/**
 * A job's identity: a digest of its mathematical config and of its prepared data. The same job
 * resumed from a checkpoint keeps it; any change to what the result depends on gives another.
 */
export function jobIdOf(config: JobConfig, data: PreparedData): string {
  return createHash('sha256')
    .update(JSON.stringify(mathematicalConfig(config)))
    .update(dataDigest(data))
    .digest('hex')
    .slice(0, 32);
}

/**
 * The first field where two configs differ in a way that changes the mathematics, as a path
 * ("optimizer.learningRate", "model[1].units"), or undefined when they agree.
 */
export function firstMathematicalDifference(saved: JobConfig, current: JobConfig): string | undefined {
  return firstDifference(mathematicalConfig(saved), mathematicalConfig(current), '');
}

function firstDifference(a: unknown, b: unknown, at: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return at || '(top level)';
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return at || '(top level)';
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    const d = firstDifference(ra[key], rb[key], at ? `${at}.${key}` : key);
    if (d) return d;
  }
  return undefined;
}
