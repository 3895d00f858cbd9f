import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { thrown } from '../thrown.testutil.js';
import { floatBytes, readFloats } from './bytes.js';
import { createCodec } from './codec.js';
import { type CoordinatorMessage, PROTOCOL_VERSION, type WorkerMessage } from './protocol.js';

const codec = createCodec();

const protocolError = (fn: () => unknown): ProtocolError => thrown(fn, ProtocolError, 'E_PROTOCOL');

describe('createCodec round trips', () => {
  const workerMessages: [string, WorkerMessage][] = [
    ['hello', { type: 'hello', protocol: PROTOCOL_VERSION, proof: Buffer.alloc(32, 7), name: 'host-a:1234' }],
    ['hello without a token', { type: 'hello', protocol: PROTOCOL_VERSION, name: 'host-a:1234' }],
    ['ready', { type: 'ready', backend: 'wasm' }],
    ['ready on the fused path', { type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: '0.3.21 Haswell' }],
    ['failed', { type: 'failed', code: 'E_SHAPE', message: 'model has 3 parameters, expected 4' }],
  ];

  it.each(workerMessages)('keeps a worker message intact: %s', (_, message) => {
    expect(codec.decodeWorkerMessage(codec.encode(message), 'worker 1')).toEqual(message);
  });

  it('keeps a chunk result intact, gradients included', () => {
    const grads = Float32Array.from([1.5, -2.25, 3e-8, Math.fround(Math.PI)]);
    const message: WorkerMessage = { type: 'chunk', step: 12, index: 3, samples: 8, lossSum: 4.75, metricSums: [0.5, 7], grads: floatBytes(grads) };
    const decoded = codec.decodeWorkerMessage(codec.encode(message), 'worker 1');
    if (decoded.type !== 'chunk') throw new Error(`decoded a ${decoded.type} message`);
    const { grads: bytes, ...rest } = decoded;
    expect(rest).toEqual({ type: 'chunk', step: 12, index: 3, samples: 8, lossSum: 4.75, metricSums: [0.5, 7] });
    expect(Array.from(readFloats(bytes!, 4, 'grads', 'worker 1'))).toEqual(Array.from(grads));
  });

  it('keeps a forward-only chunk result intact: statistics, no gradient', () => {
    const message: WorkerMessage = { type: 'chunk', step: 12, index: 3, evaluate: true, samples: 8, lossSum: 4.75, metricSums: [0.5, 7] };
    expect(codec.decodeWorkerMessage(codec.encode(message), 'worker 1')).toEqual(message);
    const notTrue = codec.encode({ ...message, evaluate: false } as never);
    expect(() => codec.decodeWorkerMessage(notTrue, 'worker 1')).toThrow(/^worker 1: bad "chunk" message: evaluate: /);
  });

  const job = {
    layers: [{ type: 'dense' as const, units: 1, activation: 'sigmoid' as const, useBias: true, inputShape: [3] }],
    loss: 'binaryCrossentropy' as const,
    metrics: ['accuracy' as const],
    backend: 'cpu' as const,
    seed: 7,
    inputShape: [3],
    paramCount: 4,
  };

  const coordinatorMessages: [string, CoordinatorMessage][] = [
    ['challenge', { type: 'challenge', protocol: PROTOCOL_VERSION, nonce: Buffer.alloc(32, 9) }],
    ['welcome', { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: 2, job, heartbeatMs: 60_000, jobId: '0123456789abcdef' }],
    ['reject', { type: 'reject', code: 'E_AUTH', message: 'wrong token' }],
    ['done', { type: 'done' }],
    ['stop', { type: 'stop', reason: 'SIGINT' }],
    ['reject E_JOB', { type: 'reject', code: 'E_JOB', message: 'another job' }],
  ];

  it.each(coordinatorMessages)('keeps a coordinator message intact: %s', (_, message) => {
    expect(codec.decodeCoordinatorMessage(codec.encode(message), 'coordinator')).toEqual(message);
  });

  it('carries a NaN or infinite loss and metric sums through: the coordinator names them as E_NUMERIC, not as a bad frame', () => {
    const codec = createCodec();
    const message: WorkerMessage = { type: 'chunk', step: 1, index: 0, samples: 1, lossSum: Number.NaN, metricSums: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], grads: new Uint8Array(4) };
    const decoded = codec.decodeWorkerMessage(codec.encode(message), 'worker 1');
    if (decoded.type !== 'chunk') throw new Error(`decoded a ${decoded.type} message`);
    expect(decoded.lossSum).toBeNaN();
    expect(decoded.metricSums).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    const notNumber = codec.encode({ ...message, lossSum: 'NaN' } as never);
    expect(() => codec.decodeWorkerMessage(notNumber, 'worker 1')).toThrow(/^worker 1: bad "chunk" message: lossSum: expected a number$/);
  });

  it('keeps a step intact, weights and chunk payloads included', () => {
    const weights = Float32Array.from([0.1, 0.2, -0.3, 4]);
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const y = Float32Array.from([0, 1]);
    const message: CoordinatorMessage = {
      type: 'step',
      step: 5,
      weights: floatBytes(weights),
      chunks: [{ index: 1, samples: 2, seed: 99, x: floatBytes(x), y: floatBytes(y) }],
    };
    const decoded = codec.decodeCoordinatorMessage(codec.encode(message), 'coordinator');
    if (decoded.type !== 'step') throw new Error(`decoded a ${decoded.type} message`);
    expect(decoded.step).toBe(5);
    expect(Array.from(readFloats(decoded.weights, 4, 'weights', 'coordinator'))).toEqual(Array.from(weights));
    expect(decoded.chunks).toHaveLength(1);
    const [chunk] = decoded.chunks;
    expect({ index: chunk?.index, samples: chunk?.samples, seed: chunk?.seed }).toEqual({ index: 1, samples: 2, seed: 99 });
    expect(Array.from(readFloats(chunk!.x, 6, 'x', 'coordinator'))).toEqual(Array.from(x));
    expect(Array.from(readFloats(chunk!.y, 2, 'y', 'coordinator'))).toEqual(Array.from(y));
    expect(decoded.evaluate).toBeUndefined();
  });

  it('keeps a forward-only step intact: its evaluate mark says to run the chunks forward only', () => {
    const message: CoordinatorMessage = {
      type: 'step',
      step: 5,
      evaluate: true,
      weights: floatBytes(Float32Array.of(1, 2)),
      chunks: [{ index: 0, samples: 1, seed: 0, x: floatBytes(Float32Array.of(3)), y: floatBytes(Float32Array.of(1)) }],
    };
    const decoded = codec.decodeCoordinatorMessage(codec.encode(message), 'coordinator');
    expect(decoded).toMatchObject({ type: 'step', step: 5, evaluate: true });
  });
});

describe('createCodec encoding into a given buffer', () => {
  const step = (values: number): CoordinatorMessage => ({
    type: 'step',
    step: 7,
    weights: floatBytes(Float32Array.from({ length: values }, (_, k) => k / 3)),
    chunks: [{ index: 0, samples: 1, seed: 1, x: floatBytes(Float32Array.of(1, 2)), y: floatBytes(Float32Array.of(1)) }],
  });

  it('writes the bytes of a plain encode from the start of the buffer', () => {
    const message = step(100);
    const into = Buffer.alloc(64 * 1024, 0xee);
    const frame = codec.encode(message, into);
    expect(frame.buffer).toBe(into.buffer);
    expect(frame.byteOffset).toBe(0);
    expect(Buffer.from(frame).equals(Buffer.from(codec.encode(message)))).toBe(true);
  });

  it('moves a frame that does not fit to a larger buffer, whole', () => {
    const message = step(50_000);
    const into = Buffer.alloc(4096);
    const frame = codec.encode(message, into);
    expect(frame.buffer).not.toBe(into.buffer);
    expect(frame.byteOffset).toBe(0);
    expect(Buffer.from(frame).equals(Buffer.from(codec.encode(message)))).toBe(true);
  });

  it('leaves the buffer alone afterwards: later plain encodes go elsewhere', () => {
    const into = Buffer.alloc(64 * 1024);
    const frame = codec.encode(step(100), into);
    const before = Buffer.from(into);
    for (let k = 0; k < 50; k++) codec.encode(step(200 + k));
    expect(into.equals(before)).toBe(true);
    expect(codec.decodeCoordinatorMessage(frame, 'coordinator')).toMatchObject({ type: 'step', step: 7 });
  });
});

describe('createCodec rejects', () => {
  it('a frame that is not msgpack, naming the peer and the size', () => {
    const error = protocolError(() => codec.decodeWorkerMessage(Uint8Array.from([0xc1, 0xff, 0x00, 0x12]), 'worker host-a:1234'));
    expect(error.message).toMatch(/^worker host-a:1234: malformed frame \(4 bytes\): /);
  });

  it('random bytes, naming the peer', () => {
    const random = mulberry32(2024);
    for (let trial = 0; trial < 200; trial++) {
      const frame = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      expect(protocolError(() => codec.decodeWorkerMessage(frame, 'worker 9')).message).toMatch(/^worker 9: (malformed frame|bad )/);
    }
  });

  it('an empty frame', () => {
    expect(protocolError(() => codec.decodeCoordinatorMessage(new Uint8Array(0), 'coordinator')).message).toMatch(
      /^coordinator: malformed frame \(0 bytes\): /,
    );
  });

  it.each([
    ['an array', [1, 2, 3]],
    ['a number', 42],
    ['a string', 'hello'],
    ['null', null],
  ])('a frame holding %s instead of an object', (_, value) => {
    const error = protocolError(() => codec.decodeWorkerMessage(codec.encode(value as never), 'worker 3'));
    expect(error.message).toMatch(/^worker 3: bad message: /);
  });

  it('a field of the wrong type, naming the message type and the field', () => {
    const frame = codec.encode({ type: 'hello', protocol: '1', name: 'x' } as never);
    expect(protocolError(() => codec.decodeWorkerMessage(frame, 'worker 3')).message).toMatch(/^worker 3: bad "hello" message: protocol: /);
  });

  it('a nested field of the wrong type', () => {
    const frame = codec.encode({ type: 'step', step: 1, weights: new Uint8Array(4), chunks: [{ index: -1, samples: 1, seed: 0, x: new Uint8Array(4), y: new Uint8Array(4) }] });
    expect(protocolError(() => codec.decodeCoordinatorMessage(frame, 'coordinator')).message).toMatch(
      /^coordinator: bad "step" message: chunks\.0\.index: /,
    );
  });

  it('an unknown field', () => {
    const frame = codec.encode({ type: 'ready', backend: 'cpu', gpu: true } as never);
    expect(protocolError(() => codec.decodeWorkerMessage(frame, 'worker 3')).message).toMatch(/^worker 3: bad "ready" message: .*"gpu"/);
  });

  it('an unknown message type', () => {
    const frame = codec.encode({ type: 'gossip' } as never);
    expect(protocolError(() => codec.decodeWorkerMessage(frame, 'worker 3')).message).toMatch(/^worker 3: bad "gossip" message: type: /);
  });

  it('a message meant for the other direction', () => {
    const toWorker = codec.encode({ type: 'done' });
    expect(protocolError(() => codec.decodeWorkerMessage(toWorker, 'worker 3')).message).toMatch(/^worker 3: bad "done" message: type: /);
    const toCoordinator = codec.encode({ type: 'ready', backend: 'cpu' });
    expect(protocolError(() => codec.decodeCoordinatorMessage(toCoordinator, 'coordinator')).message).toMatch(
      /^coordinator: bad "ready" message: type: /,
    );
  });

  it('a challenge whose nonce is not 32 bytes', () => {
    const frame = codec.encode({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(4) });
    expect(protocolError(() => codec.decodeCoordinatorMessage(frame, 'coordinator')).message).toMatch(/^coordinator: bad "challenge" message: nonce: nonce must be 32 bytes/);
  });

  it('a hello of the previous protocol (a token, no proof) as E_VERSION, naming both versions and the worker', () => {
    const frame = codec.encode({ type: 'hello', protocol: 2, token: 's3cret', name: 'old-host:1' } as never);
    const error = thrown(() => codec.decodeWorkerMessage(frame, 'worker 127.0.0.1:5000'), ProtocolError, 'E_VERSION');
    expect(error.message).toBe(`worker 127.0.0.1:5000 "old-host:1" speaks protocol 2, the coordinator speaks ${PROTOCOL_VERSION}; run the same Adamant version on both`);
  });

  it('a challenge of a later protocol, whatever its shape, as E_VERSION', () => {
    const frame = codec.encode({ type: 'challenge', protocol: PROTOCOL_VERSION + 1, salt: 'x' } as never);
    const error = thrown(() => codec.decodeCoordinatorMessage(frame, 'coordinator ws://h:1'), ProtocolError, 'E_VERSION');
    expect(error.message).toMatch(new RegExp(`^coordinator ws://h:1 speaks protocol ${PROTOCOL_VERSION + 1}, this worker speaks ${PROTOCOL_VERSION};`));
  });

  it('peer-chosen text in its error only as one printable line', () => {
    const frame = codec.encode({ type: 'ready', backend: 'cpu', '\n12:00:00 INFO  forged\u001b[2J': 1 } as never);
    const message = protocolError(() => codec.decodeWorkerMessage(frame, 'worker 3')).message;
    expect(message).not.toContain('\n');
    expect(message).not.toContain('\u001b');
    expect(message).toContain('\\x0a12:00:00');
  });

  it('a string where bytes belong', () => {
    const frame = codec.encode({ type: 'chunk', step: 0, index: 0, samples: 1, lossSum: 0, metricSums: [], grads: 'AAAA' } as never);
    expect(protocolError(() => codec.decodeWorkerMessage(frame, 'worker 3')).message).toMatch(/^worker 3: bad "chunk" message: grads: /);
  });
});

describe('floatBytes', () => {
  it('is a little-endian view of the floats, without a copy', () => {
    const values = Float32Array.from([0, 1, -2]);
    const bytes = floatBytes(values.subarray(1));
    expect(bytes.byteOffset).toBe(4);
    expect(bytes.byteLength).toBe(8);
    expect(Array.from(bytes)).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    values[1] = 0;
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });
});

describe('readFloats', () => {
  it('returns a view over aligned bytes', () => {
    const values = Float32Array.from([1, 2, 3]);
    const floats = readFloats(floatBytes(values), 3, 'weights', 'coordinator');
    expect(Array.from(floats)).toEqual([1, 2, 3]);
    expect(floats.buffer).toBe(values.buffer);
  });

  it('copies misaligned bytes into a fresh array', () => {
    const values = Float32Array.from([1.5, -7, 1e-20]);
    const backing = new Uint8Array(1 + values.byteLength);
    const misaligned = new Uint8Array(backing.buffer, 1, values.byteLength);
    misaligned.set(floatBytes(values));
    const floats = readFloats(misaligned, 3, 'grads', 'worker 1');
    expect(Array.from(floats)).toEqual(Array.from(values));
    expect(floats.buffer).not.toBe(backing.buffer);
    misaligned.fill(0);
    expect(Array.from(floats)).toEqual(Array.from(values));
  });

  it('accepts any length when none is expected', () => {
    expect(readFloats(new Uint8Array(12), undefined, 'x', 'coordinator')).toHaveLength(3);
  });

  it('rejects a byte count that is not a multiple of 4, naming the peer and the field', () => {
    const error = protocolError(() => readFloats(new Uint8Array(7), undefined, 'chunk 2 gradient', 'worker 1'));
    expect(error.message).toBe('worker 1: chunk 2 gradient has 7 bytes, not a whole number of float32 values');
  });

  it('rejects the wrong number of values, naming the peer and the field', () => {
    const error = protocolError(() => readFloats(new Uint8Array(12), 4, 'weights', 'coordinator'));
    expect(error.message).toBe('coordinator: weights has 3 values, expected 4');
  });
});
