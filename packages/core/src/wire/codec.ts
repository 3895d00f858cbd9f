import { Packr } from 'msgpackr';
import type { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { type CoordinatorMessage, coordinatorMessageSchema, type WorkerMessage, workerMessageSchema } from './protocol.js';

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
