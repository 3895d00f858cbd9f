import net from 'node:net';
import { createCodec, decodeStepWeights, type EmbeddingTable } from '@adamant/core';
import WebSocket from 'ws';
import { chunkResultFrames, denseGradient } from './wireFrames.js';

/**
 * The worker's end of the wire benchmark (wire.ts), in its own process: it answers each `step`
 * frame on the WebSocket as a worker does (decode, take the weights, one chunk result per chunk,
 * encoded with our codec), and each `stepBytes` bytes on the raw TCP socket with `replyBytes`
 * bytes. Started as `node wirePeer.js '<json of PeerSetup>'`.
 */
export interface PeerSetup {
  wsUrl: string;
  tcpPort: number;
  stepBytes: number;
  replyBytes: number[];
  paramCount: number;
  table: EmbeddingTable;
}

const setup = JSON.parse(process.argv[2]!) as PeerSetup;
const codec = createCodec();
const params = new Float32Array(setup.paramCount);
const dense = denseGradient(setup.paramCount - setup.table.rows * setup.table.dim);

const socket = new WebSocket(setup.wsUrl, { perMessageDeflate: false, maxPayload: 2 ** 31 - 1 });
socket.binaryType = 'nodebuffer';
socket.on('message', (data: Buffer) => {
  const step = codec.decodeCoordinatorMessage(data, 'bench coordinator');
  if (step.type !== 'step') throw new Error(`wire peer: expected a step, got ${step.type}`);
  decodeStepWeights(step, params, setup.table, 'bench coordinator');
  for (const frame of chunkResultFrames(step, setup.table, dense, codec)) socket.send(frame);
});

const replies = setup.replyBytes.map((bytes) => Buffer.alloc(bytes, 7));
const tcp = net.connect(setup.tcpPort, '127.0.0.1');
tcp.setNoDelay(true);
let received = 0;
tcp.on('data', (data: Buffer) => {
  received += data.byteLength;
  if (received < setup.stepBytes) return;
  received -= setup.stepBytes;
  for (const reply of replies) tcp.write(reply);
});
for (const end of [socket, tcp]) end.on('close', () => process.exit(0));
