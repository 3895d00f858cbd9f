import { Packr } from 'msgpackr';
import { z } from 'zod';
import { layerSpecSchema } from './config.js';
import { ProtocolError } from './errors.js';

/**
 * The wire protocol between coordinator and workers: one msgpack-encoded message per WebSocket
 * frame, decoded as `unknown` and narrowed by a schema before anyone trusts it.
 * docs/protocol.md describes the exchange; bump PROTOCOL_VERSION on any incompatible change.
 */
export const PROTOCOL_VERSION = 1;

const bytes = z.instanceof(Uint8Array);
const nonNegInt = z.int().min(0);

// ---- worker -> coordinator -------------------------------------------------------------

/** "I am a worker speaking protocol N; here is my token." First frame on every connection. */
const helloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.int(),
  token: z.string().optional(),
  /** Host name and pid, for logs and errors. */
  name: z.string().max(256),
});

/** "I built the model on this backend and am ready for steps." */
const readySchema = z.strictObject({
  type: z.literal('ready'),
  backend: z.enum(['tensorflow', 'wasm', 'cpu']),
});

/** "Here is the gradient sum of chunk `index` of step `step`." */
const chunkResultSchema = z.strictObject({
  type: z.literal('chunk'),
  step: nonNegInt,
  index: nonNegInt,
  samples: z.int().positive(),
  lossSum: z.number(),
  metricSums: z.array(z.number()),
  /**
   * float32 little-endian gradient sums in parameter layout order: all parameters, or, when the
   * model starts with an embedding, all parameters after its table.
   */
  grads: bytes,
  /** The embedding rows this chunk touched: uint32 row ids, ascending. */
  sparseRows: bytes.optional(),
  /** Their gradient sums: float32, sparseRows.length x embedding dim. */
  sparseValues: bytes.optional(),
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
  loss: z.enum(['meanSquaredError', 'binaryCrossentropy']),
  metrics: z.array(z.enum(['accuracy', 'mae'])),
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']),
  seed: nonNegInt,
  /** Shape of one sample's input, e.g. [13] features or [100] token ids. */
  inputShape: z.array(z.int().positive()).min(1),
  /** Length of the flat parameter vector; the worker checks its model against it. */
  paramCount: nonNegInt,
});
export type WorkerJob = z.infer<typeof workerJobSchema>;

/** "Welcome; you are worker N and this is the job." */
const welcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.int(),
  workerId: nonNegInt,
  job: workerJobSchema,
  /** The coordinator pings four times per period; a worker hearing nothing for a whole period presumes it gone. */
  heartbeatMs: z.int().positive(),
});

const chunkAssignmentSchema = z.strictObject({
  index: nonNegInt,
  samples: z.int().positive(),
  /** Seed for this chunk's randomness (dropout masks), so any worker draws the same. */
  seed: nonNegInt,
  /** float32 inputs, samples x inputShape */
  x: bytes,
  /** float32 targets, one per sample */
  y: bytes,
});

/** "Compute these chunks of step `step` from these weights." */
const stepSchema = z.strictObject({
  type: z.literal('step'),
  step: nonNegInt,
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

/** "I will not work with you: here is why." Sent before the coordinator closes a connection. */
const rejectSchema = z.strictObject({
  type: z.literal('reject'),
  code: z.enum(['E_VERSION', 'E_AUTH', 'E_PROTOCOL']),
  message: z.string(),
});

/** "Training is over; thank you." */
const doneSchema = z.strictObject({ type: z.literal('done') });

export const coordinatorMessageSchema = z.discriminatedUnion('type', [welcomeSchema, stepSchema, rejectSchema, doneSchema]);
export type CoordinatorMessage = z.infer<typeof coordinatorMessageSchema>;
export type StepMessage = z.infer<typeof stepSchema>;
export type ChunkAssignment = z.infer<typeof chunkAssignmentSchema>;
export type Reject = z.infer<typeof rejectSchema>;

// ---- encoding ------------------------------------------------------------------------------

/** Packs and unpacks messages; msgpackr is the one implementation. */
export interface MessageCodec {
  encode(message: WorkerMessage | CoordinatorMessage): Uint8Array;
  decodeWorkerMessage(frame: Uint8Array, peer: string): WorkerMessage;
  decodeCoordinatorMessage(frame: Uint8Array, peer: string): CoordinatorMessage;
}

function describe(issues: z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (!issue) return 'invalid message';
  return `${issue.path.join('.') || 'message'}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

export function createCodec(): MessageCodec {
  // Plain maps (no record extension) keep frames readable by any msgpack implementation.
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const decode = <T>(schema: z.ZodType<T>, frame: Uint8Array, peer: string): T => {
    let raw: unknown;
    try {
      raw = packr.unpack(frame);
    } catch (err) {
      throw new ProtocolError(`${peer}: malformed frame (${frame.byteLength} bytes): ${(err as Error).message}`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const type = (raw as { type?: unknown } | null)?.type;
      throw new ProtocolError(`${peer}: bad ${typeof type === 'string' ? `"${type.slice(0, 32)}" ` : ''}message: ${describe(parsed.error.issues)}`);
    }
    return parsed.data;
  };
  return {
    encode: (message) => packr.pack(message),
    decodeWorkerMessage: (frame, peer) => decode(workerMessageSchema, frame, peer),
    decodeCoordinatorMessage: (frame, peer) => decode(coordinatorMessageSchema, frame, peer),
  };
}

/** A byte view of a Float32Array, for the wire (no copy). */
export const floatBytes: (values: Float32Array) => Uint8Array<ArrayBuffer> = (values) => wordBytes(values);

/**
 * Float32 values from wire bytes. A view when the bytes sit 4-aligned in their buffer; a copy
 * otherwise (msgpack puts binary payloads at arbitrary offsets). `expected` checks the length;
 * `what` and `peer` name the field in errors.
 */
export function readFloats(data: Uint8Array, expected: number | undefined, what: string, peer: string): Float32Array {
  if (data.byteLength % 4 !== 0) throw new ProtocolError(`${peer}: ${what} has ${data.byteLength} bytes, not a whole number of float32 values`);
  const count = data.byteLength / 4;
  if (expected !== undefined && count !== expected) throw new ProtocolError(`${peer}: ${what} has ${count} values, expected ${expected}`);
  if (data.byteOffset % 4 === 0) return new Float32Array(data.buffer, data.byteOffset, count);
  const copy = new Float32Array(count);
  new Uint8Array(copy.buffer).set(data);
  return copy;
}

/** Uint32 values from wire bytes (a view when aligned, else a copy); `what` and `peer` name the field in errors. */
export function readUint32s(data: Uint8Array, what: string, peer: string): Uint32Array {
  if (data.byteLength % 4 !== 0) throw new ProtocolError(`${peer}: ${what} has ${data.byteLength} bytes, not a whole number of uint32 values`);
  if (data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  const copy = new Uint32Array(data.byteLength / 4);
  new Uint8Array(copy.buffer).set(data);
  return copy;
}

/** A byte view of a typed array of 4-byte values (float32 or uint32), for the wire (no copy). */
export function wordBytes(values: Float32Array | Uint32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(values.buffer as ArrayBuffer, values.byteOffset, values.byteLength);
}
