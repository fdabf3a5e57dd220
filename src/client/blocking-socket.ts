import { FFIType, ptr } from "bun:ffi";
import type { Response } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { decodeResponse, encodeRequestFrame, FrameDecoder, MAX_RESPONSE_FRAME, type RequestKindInit } from "../protocol/index.ts";
import { isAbstractSocket } from "../protocol/transport.ts";
import { bindLibc, EINTR, errno, HAS_LIBC } from "../util/libc.ts";
import { connectionLostError, connectError } from "./connection.ts";

/*
 * A few requests over a blocking libc socket, for the CLI's fast path: no
 * event loop, no Bun socket. Bun's first connect and the event-loop turns
 * around it cost ≈ 3–5 ms of a command whose whole budget is a compiled
 * hello-world's ≈ 16 ms (bench/README.md). Linux and macOS only; elsewhere
 * (Windows named pipes) the caller uses DaemonClient.
 */

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const POLLIN = 1;
/** Linux: no SIGPIPE when the daemon has gone; the error comes back as EPIPE instead. */
const MSG_NOSIGNAL = process.platform === "linux" ? 0x4000 : 0;

const bind = () =>
  bindLibc({
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
    recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
let libc: ReturnType<typeof bind> | undefined;

/** struct sockaddr_un for `path` (`@name`: a Linux abstract socket); null when the path does not fit. */
function sockaddr(path: string): Uint8Array | null {
  const abstract = isAbstractSocket(path);
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  if (process.platform === "darwin") {
    if (name.length > 103) return null;
    const addr = new Uint8Array(106);
    addr[0] = addr.length;
    addr[1] = AF_UNIX;
    addr.set(name, 2);
    return addr;
  }
  if (name.length > 107) return null;
  // Linux: sa_family (u16), then the path; an abstract name starts with NUL and is not NUL-terminated.
  const addr = new Uint8Array(2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1));
  addr[0] = AF_UNIX;
  addr.set(name, abstract ? 3 : 2);
  return addr;
}

/**
 * Send `requests` on one connection and return their responses in the same
 * order, or undefined when this platform or path needs DaemonClient instead.
 * Errors are DaemonClient's: UNAVAILABLE when nothing listens or the daemon
 * hangs up, PERMISSION_DENIED for another user's socket, DEADLINE_EXCEEDED
 * after `timeoutMs`, and an error response as its AdiError.
 */
export function blockingRoundTrip(socketPath: string, requests: RequestKindInit[], timeoutMs: number): Response["kind"][] | undefined {
  if (!HAS_LIBC) return undefined;
  const addr = sockaddr(socketPath);
  if (!addr) return undefined;
  const c = (libc ??= bind());
  const fd = c.socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return undefined;
  try {
    if (c.connect(fd, ptr(addr), addr.length) !== 0) throw connectError(socketPath, errno());
    const frames = requests.map((kind, i) => encodeRequestFrame({ id: i + 1, kind }));
    const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => (out.set(f, at), at + f.length), 0);
    for (let sent = 0; sent < out.length; ) {
      const n = Number(c.send(fd, ptr(out, sent), out.length - sent, MSG_NOSIGNAL));
      if (n < 0 && errno() === EINTR) continue;
      if (n <= 0) throw connectionLostError();
      sent += n;
    }
    const answers: Response["kind"][] = new Array(requests.length);
    let left = requests.length;
    const decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
    const pollfd = new Int32Array([fd, POLLIN]); // { int fd; short events; short revents }
    const buf = new Uint8Array(64 * 1024);
    const deadline = performance.now() + timeoutMs;
    while (left > 0) {
      const wait = Math.ceil(deadline - performance.now());
      const ready = wait > 0 ? c.poll(ptr(pollfd), 1, wait) : 0;
      if (ready < 0 && errno() === EINTR) continue;
      if (ready === 0) {
        const what = requests.find((_, i) => answers[i] === undefined)!.case;
        throw new AdiError(ErrorCode.DEADLINE_EXCEEDED, `the daemon did not answer ${what} within ${timeoutMs} ms`);
      }
      const n = Number(c.recv(fd, ptr(buf), buf.length, 0));
      if (n < 0 && errno() === EINTR) continue;
      if (n <= 0) throw connectionLostError();
      for (const frame of decoder.push(buf.slice(0, n))) {
        const response = decodeResponse(frame);
        const { kind } = response;
        if (response.id === 0 && kind.case === "error") throw new AdiError(kind.value.code, kind.value.message);
        const i = response.id - 1;
        if (i < 0 || i >= requests.length || answers[i] !== undefined) continue;
        if (kind.case === "error") throw new AdiError(kind.value.code, kind.value.message);
        answers[i] = kind;
        left--;
      }
    }
    return answers;
  } finally {
    c.close(fd);
  }
}
