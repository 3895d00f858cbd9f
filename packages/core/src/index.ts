/**
 * @adamant/core: what the coordinator, the workers and the CLI share. No sockets: the job config
 * (config/), data loading and batch planning (data/), the model and its flat parameter layout
 * (model/), the optimizers (optim/), and the wire protocol with its payloads (wire/).
 */

// ---- errors and logging -----------------------------------------------------------------
export {
  AccessError,
  AdamantError,
  AddressInUseError,
  BackendError,
  CheckpointError,
  ConfigError,
  ConnectError,
  DataError,
  type ErrorCode,
  ModelError,
  NumericError,
  OptimizerStateError,
  ProtocolError,
  ShapeError,
  toAdamantError,
} from './errors.js';
export { type Log, type LogFields, silentLog } from './log.js';

// ---- job config ---------------------------------------------------------------------------
export {
  ACTIVATION_NAMES,
  type ActivationName,
  BACKEND_NAMES,
  type BackendName,
  BINARY_METRICS,
  CLASSIFICATION_LOSSES,
  type ClassificationLoss,
  isClassificationLoss,
  LAYER_TYPES,
  type LayerType,
  LOSS_NAMES,
  type LossName,
  METRIC_NAMES,
  type MetricName,
  MERGE_MODES,
  type MergeMode,
  OPTIMIZER_NAMES,
  RECURRENT_LAYER_TYPES,
  type OptimizerName,
  RESOLVED_BACKEND_NAMES,
  type ResolvedBackend,
} from './config/names.js';
export { type AdamConfig, type AdamSpec, adamSpecSchema, type OptimizerSpec, optimizerSpecSchema } from './config/optimizer.js';
export { chunkSizeOf, loadJobConfig, parseJobConfig } from './config/parse.js';
export {
  type DataSpec,
  type JobConfig,
  jobConfigSchema,
  KERAS_FILTERS,
  type BidirectionalLayerSpec,
  type LayerSpec,
  layerSpecSchema,
  type RecurrentLayerSpec,
  type TableDataSpec,
  type TextDataSpec,
  type TokenizerSpec,
  tokenizerSpecSchema,
} from './config/schema.js';

// ---- randomness and flat loops ----------------------------------------------------------------
export { mixSeed, mulberry32, SEED_PURPOSE } from './rng.js';
export { addInto, distinctRows, divideInPlace, firstNonFinite, gatherTableRows, maxAbs, sumOfSquares } from './flat.js';

// ---- data -------------------------------------------------------------------------------
export type { BadRowReport, Dataset, Normalization, PreparedData, SavedPreparation } from './data/dataset.js';
export { LabelSet, labelKey } from './data/labels.js';
export { type BatchPlan, batchesPerEpoch, type ChunkPlan, epochOrder, planEpoch } from './data/plan.js';
export { prepareData, readNewData } from './data/prepare.js';
export { applyNormalization, fitNormalization, gatherRows, loadCsv, loadLabeledCsv, splitValidation } from './data/table.js';
export { type TargetKind, targetKind } from './data/targets.js';
export { encodeTexts, loadTextData, readTextRecords, type TextRecord } from './data/textData.js';
export { padSequence, Tokenizer, type TokenizerJSON, wordsOf } from './data/tokenizer.js';

// ---- model ------------------------------------------------------------------------------
export { activate, activationBackward, sigmoid } from './model/activations.js';
export { type BackendOptions, useBackend } from './model/backend.js';
export { type BuildOptions, buildModel, type EmbeddingTable, embeddingTable, hasEmbedding, layerName, resolveInputShape, sampleShape } from './model/buildModel.js';
export { type ClassCount, EVALUATION_ROWS, type Evaluation, EvaluationTally, type TallySpec } from './model/evaluation.js';
export { loadSavedModel, readDataFor, type SavedModel } from './model/inference.js';
export { readTableInput, tableInput, textInput } from './model/predictInput.js';
export { type ParamEntry, ParamLayout, weightNameAt } from './model/layout.js';
export { type EvalSums, evaluateSums, lossSum, meansOf, perSampleLoss } from './model/losses.js';
export {
  METADATA_JSON,
  readSavedMetadata,
  type SavedModelMetadata,
  savedModelMetadataSchema,
  savedLabels,
  savedNormalization,
  savedTokenizer,
  writeMetadata,
} from './model/metadata.js';
export {
  addMetricStatistics,
  AUC_THRESHOLDS,
  aucThresholds,
  emptyMetricStatistics,
  finalizeMetrics,
  metricSlots,
  metricStatisticsLength,
} from './model/metrics.js';
export { HUBER_DELTA, type HeadSpec, headLoss } from './model/objective.js';
export { autodiffSlowdown, FUSED_RECURRENT_ACTIVATIONS, type FusedSupport, fusedSupport } from './model/fusedSupport.js';
export { fileLoadHandler, loadModel, MODEL_JSON, saveModel, WEIGHTS_BIN } from './model/modelio.js';

// ---- optimizers -------------------------------------------------------------------------
export { Adam } from './optim/adam.js';
export { AdamW } from './optim/adamw.js';
export { type ClippingMode, createGradientClipping, GradientClipping } from './optim/clipping.js';
export { createOptimizer } from './optim/createOptimizer.js';
export type { Optimizer, OptimizerState, WeightRange } from './optim/optimizer.js';
export { cosineDecay, exponentialDecay, learningRateAt, piecewiseConstantDecay } from './optim/schedules.js';
export { SGD } from './optim/sgd.js';

// ---- wire -------------------------------------------------------------------------------
export { authProof, NONCE_BYTES, newNonce, PROOF_BYTES, proofMatches } from './wire/auth.js';
export { floatBytes, readFloats, readUint32s, wordBytes } from './wire/bytes.js';
export { createCodec, type MessageCodec } from './wire/codec.js';
export {
  checkForwardOnlyResult,
  type ChunkEvaluation,
  type ChunkGradient,
  type ChunkGradientPart,
  chunkWeightBytes,
  decodeChunkGradient,
  decodeStepWeights,
  describeNonFinite,
  encodeChunkResult,
  readChunkWeights,
  readTableRows,
  type SparseRows,
  stepTableRows,
} from './wire/payloads.js';
export { CLOSE_REASON_MAX_BYTES, closeReason, PRINTABLE_MAX, printable, utf8Prefix } from './wire/printable.js';
export {
  type Challenge,
  type ChunkAssignment,
  type ChunkResult,
  type CoordinatorMessage,
  coordinatorMessageSchema,
  GEMM_CHOICES,
  GEMM_ENGINE_NAMES,
  type GemmChoice,
  type GemmEngineName,
  type Hello,
  PROTOCOL_VERSION,
  type Reject,
  REJECT_MESSAGE_MAX,
  type StepMessage,
  type WorkerJob,
  workerJobSchema,
  type WorkerMessage,
  workerMessageSchema,
} from './wire/protocol.js';

// ---- checkpoints ------------------------------------------------------------------------
export {
  type Checkpoint,
  checkpointFileName,
  checkpointFiles,
  decodeCheckpoint,
  encodeCheckpoint,
  loadNewestCheckpoint,
  resolveResumeTarget,
  writeCheckpoint,
} from './checkpoint/checkpoint.js';
export { dataDigest, firstMathematicalDifference, jobIdOf, mathematicalConfig } from './checkpoint/jobIdentity.js';
