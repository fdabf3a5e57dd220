import { createError, type Response } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { decodeResponse, encodeRequestFrame, FrameDecoder, joinChunks, MAX_RESPONSE_FRAME, type RequestKindInit } from "../protocol/index.ts";
import { socketAddress, socketTooLong } from "../protocol/transport.ts";
import { EAGAIN, EINTR, libc } from "./libc.ts";
import { connectionLostError, connectError } from "./connection.ts";
import { AF_UNIX, SOCK_STREAM_NONBLOCK, sockaddrUn } from "./sockaddr.ts";

/*
 * A few requests over a libc socket and poll(2), for the CLI's fast path: no
 * event loop, no Bun socket. Bun's first connect and the event-loop turns
 * around it cost ≈ 3–5 ms of a command whose whole budget is a compiled
 * hello-world's ≈ 16 ms (bench/README.md). Linux only (where it is tested);
 * elsewhere the caller uses DaemonClient.
 */

const POLLIN = 1;
const POLLOUT = 4;

/** The requests' frames, numbered from 1, in one buffer for write(2). */
function requestFrames(requests: RequestKindInit[]): Uint8Array {
  const frames: Uint8Array[] = [];
  let size = 0;
  for (let i = 0; i < requests.length; i++) {
    const frame = encodeRequestFrame({ id: i + 1, kind: requests[i]! });
    frames.push(frame);
    size += frame.length;
  }
  return joinChunks(frames, 0, frames.length, size);
}

/**
 * Send `requests` on one connection and return their responses in the same
 * order, or undefined when this platform or path needs DaemonClient instead.
 * Errors are DaemonClient's: UNAVAILABLE when nothing listens or the daemon
 * hangs up, RESOURCE_EXHAUSTED when its listen queue is full,
 * PERMISSION_DENIED for another user's socket, DEADLINE_EXCEEDED after
 * `timeoutMs`, and an error response as its AdiError.
 *
 * With `downToClient`, a connect that fails with UNAVAILABLE (no such path,
 * refused) returns undefined as well: nothing was sent,
 * so the caller can leave it to DaemonClient, whose ping says the daemon is
 * not running or which starts one, as before. A connection lost after the
 * requests went out is still UNAVAILABLE: they may have been carried out.
 *
 * With `keepErrors`, each request settles on its own, as DaemonClient's
 * requests do: an error response is kept as that request's answer (a kind
 * of case "error"), and once the connection is up, a lost connection or the
 * deadline (while writing or reading) becomes the answer of each request not
 * yet answered; the answers to what went out are read first. A refusal
 * of the whole connection (an error with id 0) is still thrown.
 */
export function blockingRoundTrip(
  socketPath: string,
  requests: RequestKindInit[],
  timeoutMs: number,
  opts: { downToClient?: boolean; keepErrors?: boolean } = {},
): Response["kind"][] | undefined {
  if (process.platform !== "linux") return undefined;
  const addr = sockaddrUn(socketAddress(socketPath)); // refuses what is no unix socket here (a named pipe), as DaemonClient does
  // Null only past sockaddr_un's size, which socketTooLong then says, as DaemonClient does.
  if (!addr) throw socketTooLong(socketPath)!;
  const c = libc();
  if (!c) return undefined;
  const out = requestFrames(requests); // what cannot be sent (INVALID_ARGUMENT) fails before a connection is made
  const fd = c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
  if (fd < 0) return undefined;
  const deadline = performance.now() + timeoutMs;
  const pollfd = new Int32Array([fd, 0]); // { int fd; short events; short revents }
  /** Wait until the socket is ready for `events`; false when the deadline passed. */
  const ready = (events: number): boolean => {
    for (;;) {
      const wait = Math.ceil(deadline - performance.now());
      if (wait <= 0) return false;
      pollfd[1] = events;
      const n = c.poll(pollfd, wait);
      if (n > 0) return true;
      if (n === 0) return false;
      if (c.errno() !== EINTR) throw connectionLostError();
    }
  };
  const timedOut = (what: string) => new AdiError(ErrorCode.DEADLINE_EXCEEDED, `the daemon did not answer ${what} within ${timeoutMs} ms`);
  try {
    // A unix socket connects at once or fails at once (EAGAIN: its queue is full): nothing to wait for.
    if (c.connect(fd, addr) !== 0) {
      const errno = c.errno();
      const error = connectError(socketPath, errno === EAGAIN ? "EAGAIN" : errno);
      if (opts.downToClient && error.code === ErrorCode.UNAVAILABLE) return undefined;
      throw error;
    }
    for (let sent = 0; sent < out.length; ) {
      // write(2), not send(2): Bun ignores SIGPIPE, so a daemon that has gone is EPIPE here too (libc.ts).
      const n = c.write(fd, out.subarray(sent));
      const e = n < 0 ? c.errno() : 0;
      if (n > 0) sent += n;
      else if (e !== EINTR && e !== EAGAIN) {
        // With keepErrors, the answers to what went out are still read; the reading then settles the rest.
        if (opts.keepErrors) break;
        throw connectionLostError();
      } else if (!ready(POLLOUT)) {
        if (opts.keepErrors) break;
        throw timedOut(requests[0]!.case!);
      }
    }
    const answers: Response["kind"][] = new Array(requests.length);
    let left = requests.length;
    const decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
    const buf = new Uint8Array(64 * 1024);
    /** Thrown, or with keepErrors the answer of every request still unanswered. */
    const unanswered = (error: AdiError): Response["kind"][] => {
      if (!opts.keepErrors) throw error;
      for (let i = 0; i < answers.length; i++) answers[i] ??= { case: "error", value: createError({ code: error.code, message: error.message }) };
      return answers;
    };
    while (left > 0) {
      if (!ready(POLLIN)) {
        let first = 0; // the first request still unanswered names the timeout (a loop: no Array built-in to compile, output.ts)
        while (answers[first] !== undefined) first++;
        return unanswered(timedOut(requests[first]!.case!));
      }
      const n = c.read(fd, buf);
      const e = n < 0 ? c.errno() : 0;
      if (e === EINTR || e === EAGAIN) continue;
      if (n <= 0) return unanswered(connectionLostError());
      for (const frame of decoder.push(buf.slice(0, n))) {
        const response = decodeResponse(frame);
        const { kind } = response;
        if (response.id === 0 && kind.case === "error") throw new AdiError(kind.value.code, kind.value.message);
        const i = response.id - 1;
        if (i < 0 || i >= requests.length || answers[i] !== undefined) continue;
        if (kind.case === "error" && !opts.keepErrors) throw new AdiError(kind.value.code, kind.value.message);
        answers[i] = kind;
        left--;
      }
    }
    return answers;
  } finally {
    c.close(fd);
  }
}
