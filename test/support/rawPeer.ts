import WebSocket from 'ws';
import { authProof, createCodec, PROTOCOL_VERSION, type CoordinatorMessage, type WorkerMessage } from '@adamant/core';

/** What a raw peer hears: a coordinator message, or the connection's close. */
export type Heard = CoordinatorMessage | { closed: number; reason: string };

/** A hand-written peer speaking our real codec, to send what a real worker never would. */
export interface RawPeer {
  socket: WebSocket;
  /** The nonce of the coordinator's challenge, which `rawPeer` has already read. */
  nonce: Uint8Array;
  send(message: WorkerMessage | Uint8Array): void;
  /** Answers the challenge: a hello with the proof of `token` (none: no proof). */
  hello(token: string | undefined, name: string, extra?: { protocol?: number; jobId?: string }): void;
  /** The next thing heard, waiting for it. */
  next(): Promise<Heard>;
}

/** The hello a worker holding `token` sends in answer to a challenge of `nonce`. */
export function helloMessage(nonce: Uint8Array, token: string | undefined, name: string, extra: { protocol?: number; jobId?: string } = {}): WorkerMessage {
  return {
    type: 'hello',
    protocol: extra.protocol ?? PROTOCOL_VERSION,
    name,
    ...(token !== undefined ? { proof: authProof(token, nonce) } : {}),
    ...(extra.jobId !== undefined ? { jobId: extra.jobId } : {}),
  };
}

/** Connects to a coordinator and reads its challenge; the caller says hello (or not). */
export async function rawPeer(url: string): Promise<RawPeer> {
  const codec = createCodec();
  const socket = new WebSocket(url);
  const inbox: Heard[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (data: Buffer) => {
    inbox.push(codec.decodeCoordinatorMessage(data, 'coordinator'));
    wake?.();
  });
  socket.on('close', (code, reason) => {
    inbox.push({ closed: code, reason: reason.toString() });
    wake?.();
  });
  // A peer flooding a coordinator that hangs up on it sees write errors; they are expected.
  socket.on('error', () => {});
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
    return inbox.shift()!;
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`the upgrade was refused with ${response.statusCode}`)));
    socket.once('close', () => reject(new Error('closed before it opened')));
  });
  const challenge = await next();
  if (!('type' in challenge) || challenge.type !== 'challenge') throw new Error(`expected a challenge first, got ${JSON.stringify(challenge)}`);
  const send = (message: WorkerMessage | Uint8Array) => socket.send(message instanceof Uint8Array ? message : codec.encode(message));
  return {
    socket,
    nonce: challenge.nonce,
    send,
    hello: (token, name, extra) => send(helloMessage(challenge.nonce, token, name, extra)),
    next,
  };
}
