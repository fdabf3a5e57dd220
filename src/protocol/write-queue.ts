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

  /**
   * Like push, for a frame whose bytes the caller reuses as soon as this
   * returns (log frames and responses are encoded into reused buffers:
   * log-frames.ts, messages.ts). With nothing waiting it is written now; what
   * the kernel does not take, or the whole frame when others wait, is copied.
   */
  pushTransient(frame: Uint8Array): void {
    if (this.chunks.length > 0 || this.blocked) return this.push(frame.slice());
    const written = this.socket.write(frame);
    if (written < 0 || written === frame.length) return;
    this.blocked = true;
    this.chunks.push(frame.slice(written));
    this.queued += frame.length - written;
  }

  /** Call from the socket's drain handler. */
  drain(): void {
    this.blocked = false;
    this.flush();
  }

  /**
   * Write what can be written now (before closing the socket). Small frames
   * are joined into writes of up to COALESCE_MAX bytes; a big frame goes out
   * as it is, and its unwritten rest stays a view (never copied again), so a
   * slow reader of megabyte log batches costs no repeated copying.
   */
  flush(): void {
    const chunks = this.chunks;
    let head = 0;
    while (head < chunks.length) {
      let data = chunks[head]!;
      let end = head + 1;
      if (data.length < COALESCE_MAX) {
        let size = data.length;
        while (end < chunks.length && size + chunks[end]!.length <= COALESCE_MAX) size += chunks[end++]!.length;
        if (end - head > 1) data = joinChunks(chunks, head, end, size);
      }
      const written = this.socket.write(data);
      if (written < 0) {
        this.chunks = [];
        this.queued = 0;
        return;
      }
      this.queued -= written;
      if (written < data.length) {
        // The unwritten rest becomes the head; what follows keeps waiting.
        chunks[end - 1] = data.subarray(written);
        this.chunks = chunks.slice(end - 1);
        this.blocked = true;
        return;
      }
      head = end;
    }
    this.chunks = [];
  }
}

/** Frames smaller than this are joined into one write of at most this size. */
const COALESCE_MAX = 64 * 1024;

/** `chunks[from, to)`, `size` bytes in all, in one buffer. */
export function joinChunks(chunks: Uint8Array[], from: number, to: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i]!, offset);
    offset += chunks[i]!.length;
  }
  return out;
}
