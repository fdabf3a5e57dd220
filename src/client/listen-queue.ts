import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { socketAddress } from "../protocol/transport.ts";
import { AF_UNIX, SOCK_STREAM_NONBLOCK, sockaddrUn } from "./sockaddr.ts";

/** Linux's EAGAIN (this module runs on Linux only). */
const EAGAIN = 11;

function bind() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

/** Bound once, on the first refused connect (ensureRunning polls while a daemon starts). */
let libc: ReturnType<typeof bind> | null | undefined;

/**
 * After Bun.connect was refused: whether a daemon listens on `socketPath`
 * after all, with its queue of connections waiting to be accepted full (its
 * event loop stuck, or swamped). Bun reports a full queue as ECONNREFUSED,
 * as it does a socket nobody listens on, and the two call for opposite
 * advice: start a daemon, or deal with the one that is there. connect(2) on
 * a fresh non-blocking socket tells them apart: EAGAIN is a full queue;
 * a connect that succeeds means the queue had room a moment later, so the
 * refusal was a full queue too (a socket nobody listens on never accepts),
 * and that connection is closed at once. Linux only (false elsewhere: BSD
 * and macOS refuse both alike), and false where libc cannot be bound (a musl
 * system). Bound with bun:ffi, not through src/util/libc.ts: the client
 * library imports nothing outside client, protocol and gen (DESIGN §2).
 */
export function listenQueueFull(socketPath: string): boolean {
  if (process.platform !== "linux") return false;
  const addr = sockaddrUn(socketAddress(socketPath));
  if (!addr) return false;
  if (libc === undefined) {
    try {
      libc = bind();
    } catch {
      libc = null;
    }
  }
  if (!libc) return false;
  const fd = libc.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
  if (fd < 0) return false;
  try {
    return libc.connect(fd, ptr(addr), addr.length) === 0 || read.i32(libc.__errno_location()!, 0) === EAGAIN;
  } finally {
    libc.close(fd);
  }
}
