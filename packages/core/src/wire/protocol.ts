import { z } from 'zod';
import { BACKEND_NAMES, LOSS_NAMES, METRIC_NAMES, RESOLVED_BACKEND_NAMES } from '../config/names.js';
import { layerSpecSchema } from '../config/schema.js';
import { NONCE_BYTES } from './auth.js';

/**
 * The wire protocol between coordinator and workers: one msgpack-encoded message per WebSocket
 * frame, decoded as `unknown` and narrowed by a schema before anyone trusts it (codec.ts). The
 * binary fields' layouts are read and written in one place, payloads.ts.
 * docs/protocol.md describes the exchange; bump PROTOCOL_VERSION on any incompatible change.
 */
export const PROTOCOL_VERSION = 6;

/** The GEMM engines of a worker's fused path (the worker's gemm/), fastest first: the order `auto` tries them in. */
export const GEMM_ENGINE_NAMES = ['openblas', 'wasm'] as const;
export type GemmEngineName = (typeof GEMM_ENGINE_NAMES)[number];
/** What a command line or a job may ask for: an engine, or `auto`, the fastest that loads. */
export const GEMM_CHOICES = ['auto', ...GEMM_ENGINE_NAMES] as const;
export type GemmChoice = (typeof GEMM_CHOICES)[number];

const bytes = z.instanceof(Uint8Array);
const nonNegInt = z.int().min(0);

/** Messages that carry `protocol`: a peer of another version is told so (E_VERSION) whatever else it sent. */
export const VERSIONED_MESSAGE_TYPES: readonly string[] = ['challenge', 'hello', 'welcome'];
/** zod's number refuses NaN and +-Infinity; a diverging worker honestly sends them. */
const anyNumber = z.custom<number>((value) => typeof value === 'number', 'expected a number');

// ---- worker -> coordinator -------------------------------------------------------------

/**
 * "I am a worker speaking protocol N; here is my proof that I hold the token." The answer to the
 * challenge, and the worker's first frame.
 */
const helloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.int(),
  /** HMAC-SHA256(token, the challenge's nonce) (wire/auth.ts); absent when the worker has no token. */
  proof: bytes.refine((b) => b.byteLength <= 64, 'proof longer than 64 bytes').optional(),
  /** Host name and pid, for logs and errors. */
  name: z.string().max(256),
  /** The job this worker served before it lost its coordinator: it rejoins only that job. */
  jobId: z.string().max(64).optional(),
});

/**
 * "I built the model on this backend and am ready for steps"; on the fused path, "and my matrix
 * products run on this GEMM engine". Backend, engine and build are the worker's identity: workers
 * agree to the bit only when all three agree.
 */
const readySchema = z.strictObject({
  type: z.literal('ready'),
  backend: z.enum(RESOLVED_BACKEND_NAMES),
  /** Absent when the job trains on autodiff, which has no engine. */
  gemm: z.enum(GEMM_ENGINE_NAMES).optional(),
  /** What else fixes the engine's bits, e.g. OpenBLAS's version and CPU kernel ("0.3.21 Haswell"). */
  gemmBuild: z.string().max(64).optional(),
});

/**
 * "Here is the gradient sum of chunk `index` of step `step`", or with `evaluate`, "here are the
 * loss and metric statistics of forward-only chunk `index`": then it carries no gradient.
 */
const chunkResultSchema = z.strictObject({
  type: z.literal('chunk'),
  step: nonNegInt,
  index: nonNegInt,
  /** Set when the chunk was handed out forward only (a step message with `evaluate`). */
  evaluate: z.literal(true).optional(),
  samples: z.int().positive(),
  /** Any number, NaN and +-Infinity included: the coordinator's checks name a diverging chunk (E_NUMERIC), not a malformed frame. */
  lossSum: anyNumber,
  metricSums: z.array(anyNumber),
  /**
   * float32 little-endian gradient sums in parameter layout order: all parameters, or, when the
   * model starts with an embedding, all parameters after its table. Required for a training
   * chunk, absent for a forward-only one (payloads.ts checks which).
   */
  grads: bytes.optional(),
  /** The embedding rows this chunk touched: uint32 row ids, ascending. */
  sparseRows: bytes.optional(),
  /** Their gradient sums: float32, sparseRows.length x embedding dim. */
  sparseValues: bytes.optional(),
  /** Milliseconds the worker spent computing this chunk (for the step's timeline; never used in results). */
  computeMs: z.number().min(0).max(86_400_000).optional(),
});

/** "I cannot go on: here is why." Sent before a worker exits on an error. */
const workerFailedSchema = z.strictObject({
  type: z.literal('failed'),
  code: z.string(),
  message: z.string(),
});

export const workerMessageSchema = z.discriminatedUnion('type', [helloSchema, readySchema, chunkResultSchema, workerFailedSchema]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;
export type Hello = z.infer<typeof helloSchema>;
export type ChunkResult = z.infer<typeof chunkResultSchema>;

// ---- coordinator -> worker -------------------------------------------------------------

/** What a worker needs to compute gradients: the model, the loss, and how inputs are shaped. */
export const workerJobSchema = z.strictObject({
  layers: z.array(layerSpecSchema).min(1),
  loss: z.enum(LOSS_NAMES),
  metrics: z.array(z.enum(METRIC_NAMES)),
  backend: z.enum(BACKEND_NAMES),
  seed: nonNegInt,
  /** Shape of one sample's input, e.g. [13] features or [100] token ids. */
  inputShape: z.array(z.int().positive()).min(1),
  /** Length of the flat parameter vector; the worker checks its model against it. */
  paramCount: nonNegInt,
  /** The GEMM engine of the fused path for workers that do not choose one themselves (default auto). */
  gemm: z.enum(GEMM_CHOICES).optional(),
});
export type WorkerJob = z.infer<typeof workerJobSchema>;

/**
 * "I am a coordinator speaking protocol N; prove you hold the token by answering this nonce."
 * Sent as soon as a connection opens.
 */
const challengeSchema = z.strictObject({
  type: z.literal('challenge'),
  protocol: z.int(),
  /** NONCE_BYTES random bytes, fresh for each connection. */
  nonce: bytes.refine((b) => b.byteLength === NONCE_BYTES, `nonce must be ${NONCE_BYTES} bytes`),
});

/** "Welcome; you are worker N and this is the job." */
const welcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.int(),
  workerId: nonNegInt,
  job: workerJobSchema,
  /** The coordinator pings four times per period; a worker hearing nothing for a whole period presumes it gone. */
  heartbeatMs: z.int().positive(),
  /**
   * The job's identity: a digest of everything its result depends on (config, data). It stays the
   * same when the job is resumed from a checkpoint, so a reconnecting worker can tell the same job
   * from another one on the same address.
   */
  jobId: z.string().min(1).max(64),
});

const chunkAssignmentSchema = z.strictObject({
  index: nonNegInt,
  samples: z.int().positive(),
  /** Seed for this chunk's randomness (dropout masks), so any worker draws the same; 0 and unused for a forward-only chunk. */
  seed: nonNegInt,
  /** float32 inputs, samples x inputShape */
  x: bytes,
  /** float32 targets, one per sample */
  y: bytes,
  /**
   * float32 sample weights, one per sample (data.sampleWeight times classWeight); absent when
   * every weight is 1. The chunk's loss and gradient sums are then sums of weighted losses.
   */
  w: bytes.optional(),
});

/**
 * "Compute these chunks of step `step` from these weights." With `evaluate`: "run them forward
 * only, in inference mode (no dropout), and send back their loss and metric statistics, no
 * gradient" (validation). `step` then names the weights: those after `step` updates.
 */
const stepSchema = z.strictObject({
  type: z.literal('step'),
  step: nonNegInt,
  evaluate: z.literal(true).optional(),
  /**
   * float32 parameters in layout order: all of them, or, when the model starts with an
   * embedding, those after its table.
   */
  weights: bytes,
  /** The embedding rows these chunks read (uint32 ids, ascending): only those travel. */
  tableRows: bytes.optional(),
  /** Their values: float32, tableRows.length x embedding dim. */
  tableValues: bytes.optional(),
  chunks: z.array(chunkAssignmentSchema),
});

/** Longest `reject` message, in characters: it is built from peer-supplied text, cut to fit. */
export const REJECT_MESSAGE_MAX = 1024;

/** "I will not work with you: here is why." Sent before the coordinator closes a connection. */
const rejectSchema = z.strictObject({
  type: z.literal('reject'),
  code: z.enum(['E_VERSION', 'E_AUTH', 'E_PROTOCOL', 'E_JOB']),
  message: z.string().max(REJECT_MESSAGE_MAX),
});

/** "Training is over; thank you." */
const doneSchema = z.strictObject({ type: z.literal('done') });

/**
 * "I am stopping before the job is done (asked to, by a signal); a checkpoint is saved." A
 * standalone worker waits for the job to be resumed (its --reconnect-timeout); others exit.
 */
const stopSchema = z.strictObject({ type: z.literal('stop'), reason: z.string().max(256) });

export const coordinatorMessageSchema = z.discriminatedUnion('type', [challengeSchema, welcomeSchema, stepSchema, rejectSchema, doneSchema, stopSchema]);
export type CoordinatorMessage = z.infer<typeof coordinatorMessageSchema>;
export type StepMessage = z.infer<typeof stepSchema>;
export type ChunkAssignment = z.infer<typeof chunkAssignmentSchema>;
export type Reject = z.infer<typeof rejectSchema>;
export type Challenge = z.infer<typeof challengeSchema>;
