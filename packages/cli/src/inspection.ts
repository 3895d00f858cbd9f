import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  buildModel,
  type Checkpoint,
  chunkSizeOf,
  type JobConfig,
  loadModel,
  loadNewestCheckpoint,
  MODEL_JSON,
  ModelError,
  readSavedMetadata,
  resolveInputShape,
  type SavedModelMetadata,
  useBackend,
} from '@adamant/core';

/** One layer as Keras's `model.summary()` lists it. */
export interface LayerRow {
  name: string;
  type: string;
  /** `(None, 64)`: None is the batch. */
  outputShape: string;
  params: number;
}

/** An epoch's figures as a run reports them. */
export interface EpochFiguresRecord {
  loss?: number;
  metrics?: Record<string, number>;
  valLoss?: number;
  valMetrics?: Record<string, number>;
}

/** What a saved model directory or a checkpoint holds (`adamant inspect`). */
export interface Inspection {
  kind: 'model' | 'checkpoint';
  /** The directory or checkpoint file read. */
  path: string;
  layers: LayerRow[];
  params: number;
  data: {
    type: 'table' | 'text' | 'unknown';
    features?: string[];
    normalized?: boolean;
    /** Text: words the tokenizer knows (its vocabulary), the numWords limit and the padded length. */
    vocabulary?: number;
    numWords?: number;
    maxLength?: number;
    labels: string[] | null;
  };
  training: {
    /** Steps run (a checkpoint's next step). */
    step?: number;
    /** Checkpoint: epochs done, and batches done of the next one. */
    epochsDone?: number;
    batchesDone?: number;
    /** Model: epochs run; checkpoint: the epochs its run was asked for. */
    epochs?: number;
    historyLength?: number;
    last?: EpochFiguresRecord;
  };
  config: {
    optimizer?: string;
    learningRate?: unknown;
    loss?: string;
    metrics?: string[];
    batchSize?: number;
    chunkSize?: number;
    epochs?: number;
    seed?: number;
  } | null;
  files: { name: string; bytes: number }[];
}

type LayersModel = Awaited<ReturnType<typeof loadModel>>;
type Layer = LayersModel['layers'][number];

function shapeOf(layer: Layer): string {
  const shape = layer.outputShape;
  const one = (s: (number | null)[]) => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
  return Array.isArray(shape[0]) ? (shape as (number | null)[][]).map(one).join(', ') : one(shape as (number | null)[]);
}

function layerRows(model: LayersModel): LayerRow[] {
  return model.layers.map((layer) => ({ name: layer.name, type: layer.getClassName(), outputShape: shapeOf(layer), params: layer.countParams() }));
}

function configFacts(config: JobConfig): NonNullable<Inspection['config']> {
  const { type, learningRate } = config.optimizer as { type: string; learningRate?: unknown };
  return {
    optimizer: type,
    learningRate,
    loss: config.loss,
    metrics: config.metrics,
    batchSize: config.batchSize,
    chunkSize: chunkSizeOf(config),
    epochs: config.epochs,
    seed: config.seed,
  };
}

/** Files in `dir` and in its checkpoints/ folder, with their sizes. */
function filesOf(dir: string): { name: string; bytes: number }[] {
  const files: { name: string; bytes: number }[] = [];
  for (const sub of ['', 'checkpoints']) {
    const folder = path.join(dir, sub);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder).sort()) {
      const stat = statSync(path.join(folder, name));
      if (stat.isFile()) files.push({ name: path.join(sub, name), bytes: stat.size });
    }
  }
  return files;
}

function figuresOf(record: Record<string, unknown> | undefined): EpochFiguresRecord | undefined {
  if (!record) return undefined;
  const pick = <T>(key: string, ok: (v: unknown) => boolean) => (ok(record[key]) ? { [key]: record[key] as T } : {});
  const isNumber = (v: unknown) => typeof v === 'number';
  const isRecord = (v: unknown) => typeof v === 'object' && v !== null;
  return { ...pick('loss', isNumber), ...pick('metrics', isRecord), ...pick('valLoss', isNumber), ...pick('valMetrics', isRecord) };
}

async function inspectModel(dir: string): Promise<Inspection> {
  const metadata: SavedModelMetadata | undefined = readSavedMetadata(dir);
  const model = await loadModel(dir);
  const layers = layerRows(model);
  model.dispose();
  const config = metadata?.config;
  const summary = (metadata?.summary ?? {}) as Record<string, unknown>;
  const history = Array.isArray(summary.history) ? summary.history : undefined;
  return {
    kind: 'model',
    path: dir,
    layers,
    params: layers.reduce((n, l) => n + l.params, 0),
    data: {
      type: config?.data.type ?? 'unknown',
      ...(metadata && config?.data.type === 'table' ? { features: metadata.featureNames, normalized: metadata.normalization !== null } : {}),
      ...(metadata?.tokenizer ? { vocabulary: metadata.tokenizer.words.length, numWords: metadata.tokenizer.config.numWords } : {}),
      ...(config?.data.type === 'text' ? { maxLength: config.data.maxLength } : {}),
      labels: metadata?.labels ?? null,
    },
    training: {
      ...(typeof summary.epochs === 'number' ? { epochs: summary.epochs } : {}),
      ...(typeof summary.steps === 'number' ? { step: summary.steps } : {}),
      ...(history ? { historyLength: history.length } : {}),
      ...(summary.loss !== undefined && summary.loss !== null ? { last: figuresOf(summary) } : {}),
    },
    config: config ? configFacts(config) : null,
    files: filesOf(dir),
  };
}

function inspectCheckpoint(file: string, checkpoint: Checkpoint): Inspection {
  const { config, position, history, preparation } = checkpoint;
  // A checkpoint keeps the config as written; the first layer's input size comes from the data's width.
  const width = config.data.type === 'table' ? config.data.features.length : config.data.maxLength;
  const model = buildModel(resolveInputShape(config.model, width, file), config.seed, { initialize: false });
  const layers = layerRows(model);
  model.dispose();
  const params = layers.reduce((n, l) => n + l.params, 0);
  if (params !== checkpoint.weights.length) throw new ModelError(`${file}: holds ${checkpoint.weights.length} weights, but its config's model has ${params} parameters`);
  return {
    kind: 'checkpoint',
    path: file,
    layers,
    params,
    data: {
      type: config.data.type,
      ...(config.data.type === 'table' ? { features: config.data.features, normalized: preparation.normalization !== null } : {}),
      ...(preparation.tokenizer ? { vocabulary: preparation.tokenizer.words.length, numWords: preparation.tokenizer.config.numWords } : {}),
      ...(config.data.type === 'text' ? { maxLength: config.data.maxLength } : {}),
      labels: config.data.labels?.map(String) ?? null,
    },
    training: {
      step: position.step,
      epochsDone: position.epoch,
      batchesDone: position.batch,
      epochs: config.epochs,
      historyLength: history.length,
      ...(history.length > 0 ? { last: figuresOf(history.at(-1)) } : {}),
    },
    config: configFacts(config),
    files: [{ name: path.basename(file), bytes: statSync(file).size }],
  };
}

/**
 * Reads `target`: a saved model directory (model.json, with adamant.json when Adamant wrote it),
 * or a checkpoint (a run directory without a model yet, its checkpoints/ folder, or a step-*.ckpt
 * file: the newest valid one is read). E_MODEL when it is neither.
 */
export async function inspect(target: string): Promise<Inspection> {
  // Layers are built, never run: the plain JavaScript backend does, without tfjs's console banner.
  await useBackend('cpu');
  if (!existsSync(target)) throw new ModelError(`${target}: no such file or directory`);
  if (statSync(target).isDirectory() && existsSync(path.join(target, MODEL_JSON))) return inspectModel(target);
  let found: ReturnType<typeof loadNewestCheckpoint>;
  try {
    found = loadNewestCheckpoint(target);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ModelError(`${target}: neither a saved model (no ${MODEL_JSON}) nor a checkpoint (${why.replace(`${target}: `, '')})`, { cause: err });
  }
  return inspectCheckpoint(found.file, found.checkpoint);
}
