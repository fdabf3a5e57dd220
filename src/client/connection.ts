import type { Socket } from "bun";
import type { Response } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import {
  FrameDecoder,
  MAX_RESPONSE_FRAME,
  MAX_TIMER_MS,
  WriteQueue,
  decodeResponse,
  encodeRequestFrame,
  type RequestKindInit,
} from "../protocol/index.ts";
import { socketAddress, socketTooLong } from "../protocol/transport.ts";
import { EAGAIN, libc } from "./libc.ts";
import { AF_UNIX, SOCK_STREAM_NONBLOCK, sockaddrUn } from "./sockaddr.ts";

/** How long a request waits for its answer unless told otherwise (DaemonClient's `timeoutMs`). */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Receives every response frame for one request id; return true when it was the last. */
type FrameHandler = (response: Response) => boolean;

interface Pending {
  onFrame: FrameHandler;
  fail: (err: AdiError) => void;
  /** performance.now() after which the request fails with DEADLINE_EXCEEDED; Infinity for none (streams). */
  deadline: number;
  /** The request's kind and timeout, for the DEADLINE_EXCEEDED message. */
  what: string;
  timeoutMs: number;
}

export function notRunningError(socketPath: string, cause?: unknown): AdiError {
  return new AdiError(
    ErrorCode.UNAVAILABLE,
    `daemon is not running (no answer on ${socketPath}): start it with \`adi daemon start\``,
    { cause },
  );
}

/**
 * A daemon is listening but its queue of connections waiting to be accepted
 * is full: its event loop is stuck, or clients connect faster than it
 * accepts. Not UNAVAILABLE: that is "not running", on which `adi daemon
 * start` and ensureRunning would start a second daemon, which then waits
 * for the lock the stuck one holds. Linux only: elsewhere the kernel refuses
 * such a connect as it refuses one to a socket nobody listens on, and it
 * reads "not running".
 */
export function queueFullError(socketPath: string, cause?: unknown): AdiError {
  return new AdiError(
    ErrorCode.RESOURCE_EXHAUSTED,
    `the daemon on ${socketPath} is not taking connections: its queue of connections waiting to be accepted is full (it is stuck, or more clients connect than it accepts). ` +
      "Try again; if it stays so, end the daemon's process (its pid is in its PID file: ADI_DAEMON_PID, by default daemon.pid in ADI_HOME) and run `adi daemon start`",
    { cause },
  );
}

/**
 * Why a connect failed: another user's socket (EACCES/EPERM, as a code or
 * errno), a full listen queue ("EAGAIN"), else nothing listens.
 */
export function connectError(socketPath: string, code: string | number | undefined, cause?: unknown): AdiError {
  if (code === "EACCES" || code === "EPERM" || code === 13 || code === 1) {
    return new AdiError(
      ErrorCode.PERMISSION_DENIED,
      `cannot connect to ${socketPath}: permission denied (it belongs to another user); use your own ADI_HOME or ADI_DAEMON_SOCKET, or run adi as that user`,
      { cause },
    );
  }
  if (code === "EAGAIN") return queueFullError(socketPath, cause);
  return notRunningError(socketPath, cause);
}

/**
 * After Bun.connect was refused: whether a daemon listens on `socketPath`
 * after all, with its queue of connections waiting to be accepted full (its
 * event loop stuck, or swamped). Bun reports a full queue as ECONNREFUSED,
 * as it does a socket nobody listens on, and the two call for opposite
 * advice: start a daemon, or deal with the one that is there. connect(2) on
 * a fresh non-blocking socket says EAGAIN for a full queue. A connect that
 * succeeds proves nothing either way (a daemon that is starting may have
 * bound the path since), so only EAGAIN counts; that connection is closed at
 * once. Linux only (false elsewhere: BSD and macOS refuse both alike), and
 * false where libc cannot be bound.
 */
export function listenQueueFull(socketPath: string): boolean {
  if (process.platform !== "linux") return false;
  const addr = sockaddrUn(socketAddress(socketPath));
  const c = libc();
  if (!addr || !c) return false;
  const fd = c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
  if (fd < 0) return false;
  try {
    return c.connect(fd, addr) !== 0 && c.errno() === EAGAIN;
  } finally {
    c.close(fd);
  }
}

/** The daemon answered with another kind of response than the request's. */
export function unexpected(kind: Response["kind"], wanted: string): AdiError {
  return new AdiError(ErrorCode.INTERNAL, `expected ${wanted} from the daemon, got ${kind.case ?? "nothing"}`);
}

/** Reached when the connection drops: every pending request gets this. */
export function connectionLostError(): AdiError {
  return new AdiError(ErrorCode.UNAVAILABLE, "the connection to the daemon was lost");
}

/**
 * One socket to the daemon with many requests in flight. Ids are allocated
 * here; a dropped connection rejects everything pending with UNAVAILABLE. It
 * never reconnects: a new DaemonClient call opens a new connection.
 */
export class ClientConnection {
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
  private readonly pending = new Map<number, Pending>();
  private out!: WriteQueue;
  private socket!: Socket<undefined>;
  private nextId = 1;
  private closedError: AdiError | null = null;
  /**
   * One timer for every deadline, armed for the earliest one: a timer per
   * request (set, then cleared by its answer) cost ≈ 0.6 µs of a ≈ 17 µs
   * ping round trip (bench/README.md). When it fires it fails what is due
   * and is armed again for the earliest deadline left.
   */
  private deadlineTimer: Timer | null = null;
  private deadlineAt = Infinity;

  private constructor() {}

  static async open(socketPath: string): Promise<ClientConnection> {
    const conn = new ClientConnection();
    const address = socketAddress(socketPath);
    try {
      conn.socket = await Bun.connect({
        unix: address,
        socket: {
          data: (_s, chunk) => conn.onData(chunk),
          drain: () => conn.out.drain(),
          close: () => conn.fail(connectionLostError()),
          error: () => conn.fail(connectionLostError()),
        },
      });
    } catch (err) {
      const tooLong = socketTooLong(socketPath);
      if (tooLong) throw tooLong;
      let code = (err as NodeJS.ErrnoException)?.code;
      // Bun reports a full listen queue (a stuck daemon) as ECONNREFUSED, as it does a socket
      // nobody listens on; on Linux connect(2) on a socket of our own tells the two apart.
      if (code === "ECONNREFUSED" && listenQueueFull(socketPath)) code = "EAGAIN";
      throw connectError(socketPath, code, err);
    }
    conn.out = new WriteQueue(conn.socket);
    return conn;
  }

  get isOpen(): boolean {
    return this.closedError === null;
  }

  /**
   * Send a request; every response frame with its id goes to `onFrame` until
   * it returns true. `timeoutMs` 0 = no timeout (streams).
   */
  send(kind: RequestKindInit, onFrame: FrameHandler, fail: (err: AdiError) => void, timeoutMs: number): number {
    if (this.closedError) {
      fail(this.closedError);
      return 0;
    }
    const id = this.nextId;
    let frame: Uint8Array;
    try {
      frame = encodeRequestFrame({ id, kind });
    } catch (err) {
      // INVALID_ARGUMENT (encodeRequestFrame): nothing was sent, nothing waits, and the connection carries on.
      fail(AdiError.from(err));
      return 0;
    }
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    this.pending.set(id, { onFrame, fail, deadline, what: kind.case ?? "the request", timeoutMs });
    if (deadline < this.deadlineAt) this.armDeadline(deadline);
    this.out.push(frame);
    return id;
  }

  /** Send and resolve with the single response (errors reject). */
  /** `onAnswer` runs as the answer's frame is handled, before any later frame of the connection is. */
  call(kind: RequestKindInit, timeoutMs: number, onAnswer?: () => void): Promise<Response["kind"]> {
    return new Promise((resolve, reject) => {
      this.send(
        kind,
        (response) => {
          onAnswer?.();
          if (response.kind.case === "error") {
            reject(new AdiError(response.kind.value.code, response.kind.value.message));
          } else {
            resolve(response.kind);
          }
          return true;
        },
        reject,
        timeoutMs,
      );
    });
  }

  /** Stop waiting for more frames of a request (the stream was cancelled). */
  forget(id: number): void {
    this.pending.delete(id);
  }

  close(): void {
    if (this.closedError) return;
    this.out.flush();
    this.socket.end();
    this.fail(new AdiError(ErrorCode.CANCELLED, "the client closed the connection"));
  }

  /** Fire at `at` (performance.now() time), or never for Infinity; replaces the armed timer. */
  private armDeadline(at: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    // A delay past setTimeout's 32-bit range would fire after 1 ms: wait the most it can, then look again.
    this.deadlineTimer = at === Infinity ? null : setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - performance.now()))));
  }

  /** Fail every request whose deadline has passed; arm for the earliest one left. */
  private expire(): void {
    this.deadlineTimer = null;
    const now = performance.now();
    let next = Infinity;
    const due: Pending[] = [];
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        due.push(p);
      } else if (p.deadline < next) next = p.deadline;
    }
    this.armDeadline(next);
    for (const p of due) p.fail(new AdiError(ErrorCode.DEADLINE_EXCEEDED, `the daemon did not answer ${p.what} within ${p.timeoutMs} ms`));
  }

  private onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
      for (const frame of frames) this.dispatch(decodeResponse(frame));
    } catch (err) {
      this.fail(AdiError.from(err));
      this.socket.end();
    }
  }

  private dispatch(response: Response): void {
    if (response.id === 0 && response.kind.case === "error") {
      // A connection-level error (refused, malformed frame): the daemon closes next.
      this.fail(new AdiError(response.kind.value.code, response.kind.value.message));
      return;
    }
    const pending = this.pending.get(response.id);
    if (!pending) return;
    if (pending.onFrame(response)) this.pending.delete(response.id);
  }

  private fail(err: AdiError): void {
    if (this.closedError) return;
    this.closedError = err;
    const all = [...this.pending.values()];
    this.pending.clear();
    this.armDeadline(Infinity);
    for (const p of all) p.fail(err);
  }
}
