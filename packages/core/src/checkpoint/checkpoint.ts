import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { parseJobConfig } from '../config/parse.js';
import type { JobConfig } from '../config/schema.js';
import type { Normalization } from '../data/dataset.js';
import type { TokenizerJSON } from '../data/tokenizer.js';
import { AdamantError, CheckpointError } from '../errors.js';
import { metricStatisticsLength } from '../model/metrics.js';
import type { OptimizerState } from '../optim/optimizer.js';
import { readFloats, wordBytes } from '../wire/bytes.js';

/** Everything a run needs to continue exactly where it was. */
export interface Checkpoint {
  /** The job's identity (jobIdOf): a resume must run the same job. */
  jobId: string;
  /** The next step to run: batch `batch` of epoch `epoch`, global step `step`. */
  position: { epoch: number; batch: number; step: number };
  /** Sums of the epoch in progress (metricSums: the metrics' statistics, metrics.ts), so its report comes out as if it had never stopped. */
  epochTotals: { lossSum: number; metricSums: number[]; seconds: number };
  /** The resolved config (defaults filled in, the model's input shape resolved). */
  config: JobConfig;
  /** The data preparation fitted on the training split: reused on resume, never refitted. */
  preparation: { normalization: Normalization | null; tokenizer: TokenizerJSON | null };
  /** The epoch reports so far. */
  history: Record<string, unknown>[];
  weights: Float32Array;
  optimizer: OptimizerState;
  /**
   * Early stopping's and the best model's state after the last epoch reported (epochs 0-based for
   * early stopping, as Keras counts; 1-based for the best model). Absent in checkpoints written
   * before them.
   */
  monitoring?: {
    earlyStopping?: { monitor: string; best: number | null; bestEpoch: number; wait: number; stoppedEpoch: number; bestWeights: Float32Array | null };
    bestModel?: { monitor: string; best: number | null; epoch: number };
  };
}

const MAGIC = Buffer.from('ADAMCKP1', 'latin1');
const DIGEST_BYTES = 32;
const FILE_PATTERN = /^step-(\d+)\.ckpt$/;

const bytes = z.instanceof(Uint8Array);
const payloadSchema = z.strictObject({
  jobId: z.string(),
  position: z.strictObject({ epoch: z.int().min(0), batch: z.int().min(0), step: z.int().min(0) }),
  epochTotals: z.strictObject({ lossSum: z.number(), metricSums: z.array(z.number()), seconds: z.number() }),
  config: z.unknown(),
  preparation: z.strictObject({
    normalization: z.strictObject({ mean: z.array(z.number()), std: z.array(z.number()) }).nullable(),
    tokenizer: z.unknown().nullable(),
  }),
  history: z.array(z.record(z.string(), z.unknown())),
  weights: bytes,
  optimizer: z.strictObject({ name: z.string(), step: z.int().min(0), slots: z.record(z.string(), bytes) }),
  monitoring: z
    .strictObject({
      earlyStopping: z
        .strictObject({
          monitor: z.string(),
          best: z.number().nullable(),
          bestEpoch: z.int().min(0),
          wait: z.int().min(0),
          stoppedEpoch: z.int().min(0),
          bestWeights: bytes.nullable(),
        })
        .optional(),
      bestModel: z.strictObject({ monitor: z.string(), best: z.number().nullable(), epoch: z.int().min(0) }).optional(),
    })
    .optional(),
});

// Plain maps, float64 numbers: the sums come back exactly as they were.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** The file name of the checkpoint taken before global step `step`. */
export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.ckpt`;
}

/** A checkpoint as bytes: magic, SHA-256 of the payload, msgpack payload. */
export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  const { weights, optimizer, monitoring, ...rest } = checkpoint;
  const stopping = monitoring?.earlyStopping;
  const payload = packr.pack({
    ...rest,
    weights: wordBytes(weights),
    optimizer: { name: optimizer.name, step: optimizer.step, slots: Object.fromEntries(Object.entries(optimizer.slots).map(([k, v]) => [k, wordBytes(v)])) },
    ...(monitoring
      ? { monitoring: { ...monitoring, ...(stopping ? { earlyStopping: { ...stopping, bestWeights: stopping.bestWeights ? wordBytes(stopping.bestWeights) : null } } : {}) } }
      : {}),
  });
  return Buffer.concat([MAGIC, createHash('sha256').update(payload).digest(), payload]);
}

/** Decodes and checks checkpoint bytes; `source` names the file in errors. */
export function decodeCheckpoint(data: Buffer, source: string): Checkpoint {
  if (data.length < MAGIC.length + DIGEST_BYTES || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CheckpointError(`${source}: not an Adamant checkpoint (or truncated to ${data.length} bytes)`);
  }
  const digest = data.subarray(MAGIC.length, MAGIC.length + DIGEST_BYTES);
  const payload = data.subarray(MAGIC.length + DIGEST_BYTES);
  if (!createHash('sha256').update(payload).digest().equals(digest)) {
    throw new CheckpointError(`${source}: checksum mismatch (the file is truncated or corrupt)`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(payload);
  } catch (err) {
    throw new CheckpointError(`${source}: cannot decode: ${(err as Error).message}`, { cause: err });
  }
  const parsed = payloadSchema.safeParse(raw);
  if (!parsed.success) throw new CheckpointError(`${source}: unexpected content at ${parsed.error.issues[0]?.path.join('.') || 'top level'}`);
  const p = parsed.data;
  const floats = (b: Uint8Array, what: string) => {
    if (b.byteLength % 4 !== 0) throw new CheckpointError(`${source}: ${what} has ${b.byteLength} bytes, not whole float32 values`);
    return readFloats(b, undefined, what, source).slice();
  };
  const config = parseJobConfig(p.config, `${source}: config`);
  const statistics = metricStatisticsLength(config.metrics);
  if (p.epochTotals.metricSums.length !== statistics) {
    throw new CheckpointError(`${source}: epochTotals has ${p.epochTotals.metricSums.length} metric statistics, its config's metrics need ${statistics}`);
  }
  const { monitoring, ...fields } = p;
  let decodedMonitoring: Checkpoint['monitoring'];
  if (monitoring) {
    const { earlyStopping: stopping, bestModel } = monitoring;
    if (stopping?.bestWeights && stopping.bestWeights.byteLength !== p.weights.byteLength) {
      throw new CheckpointError(`${source}: early stopping's best weights have ${stopping.bestWeights.byteLength} bytes, the weights ${p.weights.byteLength}`);
    }
    decodedMonitoring = {
      ...(stopping ? { earlyStopping: { ...stopping, bestWeights: stopping.bestWeights ? floats(stopping.bestWeights, 'early stopping best weights') : null } } : {}),
      ...(bestModel ? { bestModel } : {}),
    };
  }
  return {
    ...fields,
    ...(decodedMonitoring ? { monitoring: decodedMonitoring } : {}),
    config,
    preparation: { normalization: p.preparation.normalization, tokenizer: (p.preparation.tokenizer as TokenizerJSON | null) ?? null },
    weights: floats(p.weights, 'weights'),
    optimizer: { name: p.optimizer.name, step: p.optimizer.step, slots: Object.fromEntries(Object.entries(p.optimizer.slots).map(([k, v]) => [k, floats(v, `optimizer slot ${k}`)])) },
  };
}

/**
 * Writes a checkpoint into `dir` atomically (a temporary file, fsync, rename, fsync of the
 * directory), so a crash at any moment leaves either the old set or the new one, never a torn
 * file; then keeps only the newest `keep`. Returns the file written.
 */
export function writeCheckpoint(dir: string, checkpoint: Checkpoint, keep: number): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, checkpointFileName(checkpoint.position.step));
  const temporary = `${file}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, encodeCheckpoint(checkpoint));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  for (const old of checkpointFiles(dir).slice(Math.max(keep, 1))) rmSync(old, { force: true });
  return file;
}

/** The checkpoint files in a directory, newest (highest step) first. */
export function checkpointFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, step: Number(FILE_PATTERN.exec(name)?.[1] ?? -1) }))
    .filter((e) => e.step >= 0)
    .sort((a, b) => b.step - a.step)
    .map((e) => path.join(dir, e.name));
}

/** Where a `--resume` target's checkpoints are: a run directory, its checkpoints/ folder, or one checkpoint file. */
export function resolveResumeTarget(target: string): { runDir: string; files: string[] } {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(target);
  } catch {
    throw new CheckpointError(`${target}: no such checkpoint or run directory`);
  }
  if (stat.isFile()) {
    const dir = path.dirname(path.resolve(target));
    return { runDir: path.basename(dir) === 'checkpoints' ? path.dirname(dir) : dir, files: [target] };
  }
  const inside = path.join(target, 'checkpoints');
  const files = checkpointFiles(inside);
  if (files.length > 0) return { runDir: target, files };
  return { runDir: path.basename(path.resolve(target)) === 'checkpoints' ? path.dirname(path.resolve(target)) : target, files: checkpointFiles(target) };
}

/**
 * The newest checkpoint that reads back whole, from a `--resume` target. A truncated or corrupt
 * one is reported in `skipped` (file and reason) and the one before it is used.
 */
export function loadNewestCheckpoint(target: string): { checkpoint: Checkpoint; file: string; runDir: string; skipped: { file: string; reason: string }[] } {
  const { runDir, files } = resolveResumeTarget(target);
  if (files.length === 0) throw new CheckpointError(`${target}: has no checkpoints (step-*.ckpt)`);
  const skipped: { file: string; reason: string }[] = [];
  for (const file of files) {
    try {
      return { checkpoint: decodeCheckpoint(readFileSync(file), file), file, runDir, skipped };
    } catch (err) {
      // Anything that makes this file unusable (our checks, a config that no longer parses, a read error) skips it.
      if (!(err instanceof AdamantError) && !(err instanceof Error && 'errno' in err)) throw err;
      skipped.push({ file, reason: (err as Error).message });
    }
  }
  throw new CheckpointError(`${target}: no valid checkpoint; ${skipped.map((s) => s.reason).join('; ')}`);
}
