import { Packr } from 'msgpackr';
import type { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { printable } from './printable.js';
import { type CoordinatorMessage, coordinatorMessageSchema, PROTOCOL_VERSION, VERSIONED_MESSAGE_TYPES, type WorkerMessage, workerMessageSchema } from './protocol.js';

/** Packs and unpacks messages; msgpackr is the one implementation. */
export interface MessageCodec {
  /**
   * Packs a message. With `into`, the frame is written from the start of that buffer (a larger
   * new one if it does not fit: the frame's own buffer tells) instead of msgpackr's shared one, so
   * a caller that sends large frames can reuse a few buffers rather than allocate one per frame.
   * A Node Buffer, not any Uint8Array: msgpackr writes strings with Buffer's own methods.
   */
  encode(message: WorkerMessage | CoordinatorMessage, into?: Buffer): Uint8Array;
  decodeWorkerMessage(frame: Uint8Array, peer: string): WorkerMessage;
  decodeCoordinatorMessage(frame: Uint8Array, peer: string): CoordinatorMessage;
}

function describe(issues: z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (!issue) return 'invalid message';
  return `${issue.path.join('.') || 'message'}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/**
 * A handshake message of another protocol version may have another shape altogether: its version
 * is read before the schema, so the peer hears E_VERSION naming both versions, not a schema error.
 */
function checkVersion(raw: unknown, peer: string, us: string): void {
  if (typeof raw !== 'object' || raw === null) return;
  const { type, protocol, name } = raw as { type?: unknown; protocol?: unknown; name?: unknown };
  if (typeof type !== 'string' || !VERSIONED_MESSAGE_TYPES.includes(type)) return;
  if (!Number.isInteger(protocol) || protocol === PROTOCOL_VERSION) return;
  const who = typeof name === 'string' ? ` "${printable(name, 64)}"` : '';
  throw new ProtocolError(`${peer}${who} speaks protocol ${protocol}, ${us} speaks ${PROTOCOL_VERSION}; run the same Adamant version on both`, 'E_VERSION');
}

/** The fresh shared buffer msgpackr gets back after an `encode(message, into)` (it grows one as needed). */
const SHARED_BUFFER_BYTES = 8192;

export function createCodec(): MessageCodec {
  // Plain maps (no record extension) keep frames readable by any msgpack implementation.
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const decode = <T>(schema: z.ZodType<T>, frame: Uint8Array, peer: string, us: string): T => {
    let raw: unknown;
    try {
      raw = packr.unpack(frame);
    } catch (err) {
      throw new ProtocolError(`${peer}: malformed frame (${frame.byteLength} bytes): ${printable((err as Error).message)}`);
    }
    checkVersion(raw, peer, us);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const type = (raw as { type?: unknown } | null)?.type;
      throw new ProtocolError(`${peer}: bad ${typeof type === 'string' ? `"${printable(type, 32)}" ` : ''}message: ${printable(describe(parsed.error.issues))}`);
    }
    return parsed.data;
  };
  return {
    encode: (message, into) => {
      if (!into) return packr.pack(message);
      packr.useBuffer(into);
      try {
        return packr.pack(message);
      } finally {
        // msgpackr's buffer is shared by every pack() in the process: later frames must not land in `into`.
        packr.useBuffer(Buffer.allocUnsafeSlow(SHARED_BUFFER_BYTES));
      }
    },
    decodeWorkerMessage: (frame, peer) => decode(workerMessageSchema, frame, peer, 'the coordinator'),
    decodeCoordinatorMessage: (frame, peer) => decode(coordinatorMessageSchema, frame, peer, 'this worker'),
  };
}
