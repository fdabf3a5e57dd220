/** What a Bun socket offers for writing: returns bytes taken, 0 when full, -1 when closed. */
export interface WritableSocket {
  write(data: Uint8Array): number;
}

/**
 * Told when the queue crosses `bytes`: `above` once more than that waits,
 * `below` once it is back at or under it (the daemon pauses and resumes
 * reading the connection's requests: OUTPUT_HIGH_WATER_BYTES).
 */
export interface HighWater {
  bytes: number;
  above(): void;
  below(): void;
}

const NO_HIGH_WATER: HighWater = { bytes: Number.POSITIVE_INFINITY, above() {}, below() {} };

/**
 * Per-connection output queue honouring backpressure. Bun's socket write is
 * unbuffered (PLATFORM-NOTES): whatever the kernel did not take stays here
 * and goes out from `drain()`. Frames queued in the same tick are coalesced
 * into one write, so a pipelining peer costs one syscall per batch.
 *
 * A waiting piece costs some 200 bytes of memory whatever its size, so small
 * frames are also joined as they wait (JOIN_RUN): an 18-byte pong left
 * unread would otherwise cost ten times its size, and a limit counted in
 * bytes would not bound the memory.
 */
export class WriteQueue {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private flushScheduled = false;
  private blocked = false;
  /** How many pieces at the end of `chunks` are small (JOIN_BELOW) and not joined yet. */
  private smallRun = 0;
  /** More than highWater.bytes wait (`above` was called, `below` not yet). */
  private overHighWater = false;

  constructor(
    private readonly socket: WritableSocket,
    private readonly highWater: HighWater = NO_HIGH_WATER,
  ) {}

  /** Bytes accepted but not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.queued;
  }

  push(frame: Uint8Array): void {
    this.append(frame);
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
    this.append(frame.slice(written));
  }

  /** Queue a piece (it is the queue's now), join a run of small ones, tell the high-water mark. */
  private append(piece: Uint8Array): void {
    this.chunks.push(piece);
    this.queued += piece.length;
    this.smallRun = piece.length < JOIN_BELOW ? this.smallRun + 1 : 0;
    if (this.smallRun === JOIN_RUN) this.joinSmallRun();
    if (!this.overHighWater && this.queued > this.highWater.bytes) {
      this.overHighWater = true;
      this.highWater.above();
    }
  }

  /**
   * The last JOIN_RUN pieces, all small, become one. The joined piece is not
   * small any more, so each byte is copied here at most once.
   */
  private joinSmallRun(): void {
    const chunks = this.chunks;
    const from = chunks.length - JOIN_RUN;
    let size = 0;
    for (let i = from; i < chunks.length; i++) size += chunks[i]!.length;
    const joined = joinChunks(chunks, from, chunks.length, size);
    chunks.length = from;
    chunks.push(joined);
    this.smallRun = 0;
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
        this.smallRun = 0;
        return this.checkBelowHighWater();
      }
      this.queued -= written;
      if (written < data.length) {
        // The unwritten rest becomes the head; what follows keeps waiting, and
        // the small run at the end is still one (the head, maybe a join, is not in it).
        chunks[end - 1] = data.subarray(written);
        this.chunks = chunks.slice(end - 1);
        this.smallRun = Math.min(this.smallRun, this.chunks.length - 1);
        this.blocked = true;
        return this.checkBelowHighWater();
      }
      head = end;
    }
    this.chunks = [];
    this.smallRun = 0;
    this.checkBelowHighWater();
  }

  private checkBelowHighWater(): void {
    if (!this.overHighWater || this.queued > this.highWater.bytes) return;
    this.overHighWater = false;
    this.highWater.below();
  }
}

/** Frames smaller than this are joined into one write of at most this size. */
const COALESCE_MAX = 64 * 1024;
/**
 * Pieces smaller than this are joined as they wait, JOIN_RUN at a time (into
 * at most 64 KiB): an unread pong then costs about its 18 bytes, not ~200.
 */
const JOIN_BELOW = 1024;
const JOIN_RUN = 64;

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
