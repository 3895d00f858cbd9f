import net from 'node:net';

/**
 * A TCP proxy in front of `port` that records every byte both ways: what a passive observer of a
 * `ws://` connection sees. Frames from the client are masked (RFC 6455 §5.3) and the server's
 * are not; `clientPayloads()` undoes the masking, as any observer can, since the key travels in
 * each frame.
 */
export async function recordingProxy(port: number): Promise<{ port: number; toServer: () => Buffer; toClient: () => Buffer; clientPayloads: () => Buffer; close: () => void }> {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const [from, to, into] of [[client, upstream, up], [upstream, client, down]] as const) {
      from.on('data', (data: Buffer) => into.push(Buffer.from(data)));
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const toServer = () => Buffer.concat(up);
  return {
    port: (server.address() as net.AddressInfo).port,
    toServer,
    toClient: () => Buffer.concat(down),
    clientPayloads: () => unmaskedPayloads(toServer()),
    close: () => server.close(),
  };
}

/** The payloads of the client's WebSocket frames, unmasked, after its HTTP upgrade request (one connection). */
function unmaskedPayloads(stream: Buffer): Buffer {
  const payloads: Buffer[] = [];
  let at = stream.indexOf('\r\n\r\n') + 4;
  while (at > 3 && at + 2 <= stream.length) {
    const masked = (stream[at + 1]! & 0x80) !== 0;
    let length = stream[at + 1]! & 0x7f;
    at += 2;
    if (length === 126) {
      length = stream.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(at));
      at += 8;
    }
    const key = masked ? stream.subarray(at, at + 4) : undefined;
    if (masked) at += 4;
    const payload = Buffer.from(stream.subarray(at, at + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    payloads.push(payload);
    at += length;
  }
  return Buffer.concat(payloads);
}
