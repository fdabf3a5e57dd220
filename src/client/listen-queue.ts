import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { socketAddress } from "../protocol/transport.ts";
import { AF_UNIX, sockaddrUn } from "./sockaddr.ts";

const SOCK_STREAM_NONBLOCK = 1 | 0o4000;
const EAGAIN = 11;

/**
 * Whether a daemon listens on `socketPath` with its queue of connections
 * waiting to be accepted full (its event loop stuck, or swamped): connect(2)
 * on a fresh non-blocking socket fails with EAGAIN. Bun.connect reports that
 * as ECONNREFUSED, as it does a socket nobody listens on, and the two call
 * for opposite advice: start a daemon, or deal with the one that is there.
 * Linux only (false elsewhere). Loaded by the client only after a connect
 * was refused; bound here with bun:ffi, not through src/util/libc.ts, since
 * the client library imports nothing outside client, protocol and gen
 * (DESIGN §2). A connection it makes is closed at once.
 */
export function listenQueueFull(socketPath: string): boolean {
  if (process.platform !== "linux") return false;
  const addr = sockaddrUn(socketAddress(socketPath));
  if (!addr) return false;
  const { symbols: c, close } = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
  try {
    const fd = c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
    if (fd < 0) return false;
    try {
      return c.connect(fd, ptr(addr), addr.length) !== 0 && read.i32(c.__errno_location()!, 0) === EAGAIN;
    } finally {
      c.close(fd);
    }
  } finally {
    close();
  }
}
