import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  buildModel,
  createCodec,
  decodeChunkGradient,
  embeddingTable,
  floatBytes,
  ParamLayout,
  type StepMessage,
  stepTableRows,
} from '@adamant/core';
import { WebSocketServer, type WebSocket } from 'ws';
import { progress, sideBySide } from './measure.js';
import type { BenchRow } from './results.js';
import { batchOf, CHUNK, REFERENCE, referenceLayers } from './textModels.js';
import { chunkResultFrames, denseGradient } from './wireFrames.js';
import type { PeerSetup } from './wirePeer.js';

const peerScript = fileURLToPath(new URL('./wirePeer.js', import.meta.url));

/** One step of the reference model for one worker: dense weights, the table rows its two chunks read, their inputs. */
function referenceStep() {
  const layers = referenceLayers(REFERENCE);
  const model = buildModel(layers, 1);
  const layout = ParamLayout.fromModel(model);
  const params = layout.read(model);
  model.dispose();
  const table = embeddingTable(layers)!;
  const { x, y } = batchOf(REFERENCE);
  const length = REFERENCE.length;
  const inputs = [x.subarray(0, CHUNK * length), x.subarray(CHUNK * length)];
  const message: StepMessage = {
    type: 'step',
    step: 1,
    weights: floatBytes(params.subarray(table.rows * table.dim)),
    ...stepTableRows(inputs, table, params),
    chunks: inputs.map((input, index) => ({ index, samples: CHUNK, seed: index + 1, x: floatBytes(input), y: floatBytes(y.subarray(index * CHUNK, (index + 1) * CHUNK)) })),
  };
  return { layout, table, message, chunks: inputs.length };
}

/** Resolves with the next `count` frames' round trip on a WebSocket, each decoded and checked as the coordinator does. */
function wsRoundTrip(socket: WebSocket, frame: Uint8Array, replies: number, onReply: (data: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    let left = replies;
    const listener = (data: Buffer) => {
      onReply(data);
      if (--left === 0) {
        socket.off('message', listener);
        resolve();
      }
    };
    socket.on('message', listener);
    socket.send(frame);
  });
}

/** Resolves once `expected` bytes have come back on a TCP socket after writing `payload`. */
function tcpRoundTrip(socket: net.Socket, payload: Buffer, expected: number): Promise<void> {
  return new Promise((resolve) => {
    let received = 0;
    const listener = (data: Buffer) => {
      received += data.byteLength;
      if (received >= expected) {
        socket.off('data', listener);
        resolve();
      }
    };
    socket.on('data', listener);
    socket.write(payload);
  });
}

/**
 * One step's weights and gradients between two processes on loopback: over ws with our msgpackr
 * codec (encode the step, the peer decodes it and sends one chunk result per chunk, we decode and
 * check those), against the same bytes over a raw TCP socket, round trip.
 */
export async function benchWire(): Promise<BenchRow[]> {
  const { layout, table, message, chunks } = referenceStep();
  const codec = createCodec();
  const stepFrame = codec.encode(message);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: layout.size * 4 + (1 << 20), clientTracking: false });
  await once(wss, 'listening');
  const tcpServer = net.createServer();
  tcpServer.listen(0, '127.0.0.1');
  await once(tcpServer, 'listening');

  // The peer's replies, encoded here too to learn their lengths: the raw TCP side sends as many bytes.
  const replyBytes = chunkResultFrames(message, table, denseGradient(layout.size - table.rows * table.dim), codec).map((frame) => frame.byteLength);
  const replyTotal = replyBytes.reduce((a, b) => a + b, 0);

  const wsConnected = once(wss, 'connection') as Promise<[WebSocket]>;
  const tcpConnected = once(tcpServer, 'connection') as Promise<[net.Socket]>;
  const peer = startPeer({
    wsUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    tcpPort: (tcpServer.address() as AddressInfo).port,
    stepBytes: stepFrame.byteLength,
    replyBytes,
    paramCount: layout.size,
    table,
  });
  const [[ws], [tcp]] = await Promise.all([wsConnected, tcpConnected]);
  tcp.setNoDelay(true);
  const payload = Buffer.alloc(stepFrame.byteLength, 3);
  const decode = (data: Buffer) => {
    const result = codec.decodeWorkerMessage(data, 'bench peer');
    if (result.type !== 'chunk') throw new Error(`expected a chunk result, got ${result.type}`);
    decodeChunkGradient(result, layout, table, 'bench peer');
  };
  progress(`wire: ${(stepFrame.byteLength / 1e6).toFixed(2)} MB out, ${(replyTotal / 1e6).toFixed(2)} MB back per round trip`);
  const timing = await sideBySide(
    {
      ws: () => wsRoundTrip(ws, codec.encode(message), chunks, decode),
      tcp: () => tcpRoundTrip(tcp, payload, replyTotal),
    },
    { rounds: 9, minMs: 300 },
  );
  ws.close();
  tcp.destroy();
  await once(peer, 'exit');
  wss.close();
  tcpServer.close();
  const us = (ns: number) => ns / 1e3;
  const megabytes = (stepFrame.byteLength + replyTotal) / 1e6;
  return [
    {
      section: 'wire',
      name: "one step's weights and gradients, round trip: ws + msgpackr vs raw TCP",
      sizes: `reference model, one worker, 2 chunks of 32: step ${(stepFrame.byteLength / 1e6).toFixed(2)} MB out (dense weights + ${message.tableRows!.byteLength / 4} table rows + inputs), 2 chunk results ${(replyTotal / 1e6).toFixed(2)} MB back; two processes on 127.0.0.1`,
      a: { label: 'ws + our codec (encode, decode, checks)', value: us(timing.ns.ws), unit: 'us' },
      b: { label: 'raw TCP (net), same bytes', value: us(timing.ns.tcp), unit: 'us' },
      ratio: timing.ratio('tcp', 'ws'),
      note: `${(megabytes / (timing.ns.ws / 1e9) / 1e3).toFixed(2)} GB/s against ${(megabytes / (timing.ns.tcp / 1e9) / 1e3).toFixed(2)} GB/s`,
    },
  ];
}

/** Starts the peer process, its output on ours. */
function startPeer(setup: PeerSetup): ChildProcess {
  return spawn(process.execPath, [peerScript, JSON.stringify(setup)], { stdio: ['ignore', 'inherit', 'inherit'] });
}
