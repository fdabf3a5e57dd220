import type { Socket } from "bun";
import type { ResponseInit } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import {
  FrameDecoder,
  MAX_REQUEST_FRAME,
  MAX_RESPONSE_FRAME,
  MAX_STREAMS_PER_CONNECTION,
  OUTPUT_HIGH_WATER_BYTES,
  WriteQueue,
  encodeResponseFrame,
  encodeResponseFrameShared,
  errorResponse,
  type ResponseKindInit,
} from "../protocol/index.ts";
import type { Caller } from "./caller.ts";

/**
 * A client that stops reading is cut off once this much output waits for it,
 * so one stalled reader can never grow the daemon's memory without bound.
 * Reading its requests stops at OUTPUT_HIGH_WATER_BYTES already: only the
 * answers to requests read before that (one read's worth, or a few big ones)
 * can reach this. Log followers stay far below it: they skip lines first
 * (see log fan-out).
 */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** Responses at least this big skip the copy and the same-tick coalescing (see send). */
const WRITE_AT_ONCE_BYTES = 1024;

/** One accepted client: its decoder, output queue, identity and open streams. */
export class Connection {
  readonly decoder = new FrameDecoder(MAX_REQUEST_FRAME);
  readonly out: WriteQueue;
  private readonly streams = new Map<number, () => void>();
  private closed = false;
  private paused = false;
  /**
   * Set by the server for a plugin's connection: whether the output waiting on
   * all of that plugin's connections is over its budget (server.ts
   * PLUGIN_MAX_QUEUED_BYTES). Asked only once this one's own output is past
   * the high-water mark, so the usual answer costs nothing.
   */
  overSharedBudget: (() => boolean) | undefined;
  /** Set by the server: called when reading resumes (its half-frame deadline was off meanwhile). */
  onReadResumed: (() => void) | undefined;
  /**
   * Set by the server while it dispatches a read that held one request: its
   * synchronous reply is written at once, not copied and queued for the end
   * of the tick (≈ 0.3 µs of a ping round trip). The replies to a read of
   * several requests are still joined into one write.
   */
  loneRequest = false;

  constructor(
    private readonly socket: Socket<Connection>,
    readonly caller: Caller,
  ) {
    this.out = new WriteQueue(socket, {
      bytes: OUTPUT_HIGH_WATER_BYTES,
      above: () => this.pauseReading(),
      below: () => this.resumeReading(),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * True while the connection's requests are left unread (in the kernel,
   * then in the peer's full socket) because more than OUTPUT_HIGH_WATER_BYTES
   * of output wait for it. Requests already read are still answered.
   */
  get isReadPaused(): boolean {
    return this.paused;
  }

  private pauseReading(): void {
    if (this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed) return;
    this.socket.resume();
    this.onReadResumed?.();
  }

  /** A response as a message or a plain init object (encoded as is: no create() copy). */
  send(response: ResponseInit & { id: number }): void {
    if (this.closed) return;
    const frame = encodeResponseFrameShared(response);
    // A small frame is copied and queued, so the replies to a pipelining peer's burst are joined
    // into one write; a bigger one, or the reply to a lone request, goes out from the shared buffer at once.
    if (frame.length < WRITE_AT_ONCE_BYTES && !this.loneRequest) this.sendFrame(response.id, frame.slice());
    else this.sendFrame(response.id, frame, true);
  }

  /**
   * Queue an already encoded response frame (the log-follow fast path) for
   * request `id`. `transient`: the caller reuses the frame's bytes once this
   * returns (WriteQueue.pushTransient).
   */
  sendFrame(id: number, frame: Uint8Array, transient = false): void {
    if (this.closed) return;
    if (frame.length - 4 > MAX_RESPONSE_FRAME) {
      frame = encodeResponseFrame(
        errorResponse(id, new AdiError(ErrorCode.RESOURCE_EXHAUSTED, `response of ${frame.length} bytes exceeds the frame limit`)),
      );
    }
    if (transient) this.out.pushTransient(frame);
    else this.out.push(frame);
    const queued = this.out.queuedBytes;
    if (queued > MAX_QUEUED_BYTES || (queued > OUTPUT_HIGH_WATER_BYTES && this.overSharedBudget?.() === true)) this.close();
  }

  reply(id: number, kind: ResponseKindInit): void {
    this.send({ id, kind });
  }

  /**
   * Register a stream (log follow, events) that `cancel` ends; call it
   * before the stream sends anything. Throws instead when it may not open:
   * an id already streaming would leave the first stream impossible to
   * cancel, and a connection holds at most MAX_STREAMS_PER_CONNECTION.
   */
  openStream(id: number, cancel: () => void): void {
    if (this.streams.has(id)) throw new AdiError(ErrorCode.ALREADY_EXISTS, `request id ${id} is already an open stream on this connection; use a new id`);
    if (this.streams.size >= MAX_STREAMS_PER_CONNECTION) {
      throw new AdiError(ErrorCode.RESOURCE_EXHAUSTED, `a connection holds at most ${MAX_STREAMS_PER_CONNECTION} open streams; cancel one first`);
    }
    this.streams.set(id, cancel);
  }

  /** The stream finished on its own: forget it without cancelling. */
  forgetStream(id: number): void {
    this.streams.delete(id);
  }

  cancelStream(id: number): boolean {
    const cancel = this.streams.get(id);
    if (!cancel) return false;
    this.streams.delete(id);
    cancel();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.out.flush();
    this.socket.end();
    this.onClosed();
  }

  /** Called once the socket is gone: end every stream it had open. */
  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const cancels = [...this.streams.values()];
    this.streams.clear();
    for (const cancel of cancels) cancel();
  }
}
