import { ProtocolError } from '../errors.js';

// Typed arrays to and from the bytes of binary message fields: little-endian 4-byte words.

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
