/** A new buffer's size before any frame has been seen. */
const FIRST_BUFFER_BYTES = 64 * 1024;
/** Buffers kept idle per connection: one in flight and one being filled is the steady state. */
const MAX_IDLE = 2;

/**
 * Reused memory for one connection's outgoing frames. ws writes a frame to the socket without
 * copying it, so a frame's buffer is lent until ws's send callback says the bytes have left; then
 * it serves the next frame. A step sends megabytes to each worker: a fresh buffer per frame cost
 * the coordinator page faults and a full garbage collection every step or two.
 */
export class FramePool {
  private readonly idle: Buffer[] = [];
  /** The largest frame so far: a new buffer starts this large, so it rarely grows. */
  private largest = FIRST_BUFFER_BYTES;

  /** A buffer to encode the next frame into (MessageCodec.encode's `into`). */
  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.largest);
  }

  /** Gives back the buffer `frame` was encoded in, once its send has completed or failed. */
  give(frame: Uint8Array): void {
    this.largest = Math.max(this.largest, frame.byteLength);
    // The whole buffer the frame starts in: the one taken, or the larger one the encoder moved to.
    if (this.idle.length < MAX_IDLE && frame.byteOffset === 0) this.idle.push(Buffer.from(frame.buffer, 0, frame.buffer.byteLength));
  }
}
