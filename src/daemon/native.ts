import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";

/**
 * The few libc calls Bun does not expose: flock (one daemon per ADI_HOME,
 * released by the kernel even on kill -9) and getsockopt(SO_PEERCRED) (who is
 * on the other end of the socket, answered by the kernel, not the message).
 * Loaded on first use so the CLI never pays for it.
 */
const LOCK_EX = 2;
const LOCK_NB = 4;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | undefined;

function openLibc() {
  const name = process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";
  return dlopen(name, {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    getsockopt: {
      args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
      returns: FFIType.i32,
    },
  }).symbols;
}

function lib(): Libc {
  libc ??= openLibc();
  return libc;
}

/** Non-blocking exclusive flock; false when another process holds it. */
export function tryLockExclusive(fd: number): boolean {
  return lib().flock(fd, LOCK_EX | LOCK_NB) === 0;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The connected peer's pid/uid/gid (Linux only); null when unavailable. */
export function peerCredentials(fd: number): PeerCredentials | null {
  if (process.platform !== "linux") return null;
  const cred = new Int32Array(3);
  const len = new Uint32Array([12]);
  const rc = lib().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred) as Pointer, ptr(len) as Pointer);
  if (rc !== 0) return null;
  return { pid: cred[0]!, uid: cred[1]! >>> 0, gid: cred[2]! >>> 0 };
}
