/** What a Bun socket offers for writing: returns bytes taken, 0 when full, -1 when closed. */
export interface WritableSocket {
  write(data: Uint8Array): number;
}

/**
 * Per-connection output queue honouring backpressure. Bun's socket write is
 * unbuffered (PLATFORM-NOTES): whatever the kernel did not take stays here
 * and goes out from `drain()`. Frames queued in the same tick are coalesced
 * into one write, so a pipelining peer costs one syscall per batch.
 */
export class WriteQueue {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private flushScheduled = false;
  private blocked = false;

  constructor(private readonly socket: WritableSocket) {}

  /** Bytes accepted but not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.queued;
  }

  push(frame: Uint8Array): void {
    this.chunks.push(frame);
    this.queued += frame.length;
    if (this.blocked || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Call from the socket's drain handler. */
  drain(): void {
    this.blocked = false;
    this.flush();
  }

  /** Write what can be written now (before closing the socket). */
  flush(): void {
    while (this.chunks.length > 0) {
      const data = this.chunks.length === 1 ? this.chunks[0]! : this.coalesce();
      const written = this.socket.write(data);
      if (written < 0) {
        this.chunks = [];
        this.queued = 0;
        return;
      }
      this.queued -= written;
      if (written < data.length) {
        this.chunks = [data.subarray(written)];
        this.blocked = true;
        return;
      }
      this.chunks = [];
    }
  }

  private coalesce(): Uint8Array {
    const out = new Uint8Array(this.queued);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
