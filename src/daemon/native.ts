import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";
import { AdiError, ErrorCode } from "../errors.ts";

/**
 * The few libc calls Bun does not expose: flock (one daemon per ADI_HOME,
 * released by the kernel even on kill -9), the peer's credentials on the
 * socket (who is on the other end, answered by the kernel, not the message):
 * Linux getsockopt(SO_PEERCRED); macOS getpeereid + getsockopt(LOCAL_PEERPID),
 * and on Linux getsid (which session a peer is in).
 * Windows has neither: no libc is loaded there (see instance.ts for how the
 * named pipe stands in for the lock). Loaded on first use so the CLI never pays for it.
 */
const LOCK_EX = 2;
const LOCK_NB = 4;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SOL_LOCAL = 0;
const LOCAL_PEERPID = 2;

const getsockopt = {
  args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
  returns: FFIType.i32,
} as const;
const flock = { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } as const;
const getsid = { args: [FFIType.i32], returns: FFIType.i32 } as const;

const fcntl = { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 } as const;

function openLinux() {
  return dlopen("libc.so.6", { flock, getsockopt, getsid, fcntl }).symbols;
}

function openDarwin() {
  return dlopen("libSystem.B.dylib", {
    flock,
    getsockopt,
    getpeereid: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  }).symbols;
}

let linux: ReturnType<typeof openLinux> | undefined;
let darwin: ReturnType<typeof openDarwin> | undefined;

function unsupported(what: string): AdiError {
  return new AdiError(ErrorCode.FAILED_PRECONDITION, `${what} is not available on ${process.platform}`);
}

/** Non-blocking exclusive flock; false when another process holds it. Not on Windows (throws). */
export function tryLockExclusive(fd: number): boolean {
  if (process.platform === "linux") return (linux ??= openLinux()).flock(fd, LOCK_EX | LOCK_NB) === 0;
  if (process.platform === "darwin") return (darwin ??= openDarwin()).flock(fd, LOCK_EX | LOCK_NB) === 0;
  throw unsupported("flock");
}

/**
 * The session id of process `pid` (getsid(2)), or null when it is gone.
 * One system call: the kernel's answer, without the path walk, open, read
 * and close of /proc/<pid>/stat. Linux only (null elsewhere): mapping a
 * session to a service also needs /proc (privilege/identify.ts).
 */
export function sessionOf(pid: number): number | null {
  if (pid <= 0 || process.platform !== "linux") return null;
  const sid = (linux ??= openLinux()).getsid(pid);
  return sid > 0 ? sid : null;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * The connected peer's pid/uid/gid; null where the platform cannot say
 * (Windows: the pipe is private to the user instead). On macOS pid is 0
 * when LOCAL_PEERPID fails.
 */
export function peerCredentials(fd: number): PeerCredentials | null {
  if (process.platform === "linux") {
    const cred = new Int32Array(3);
    const len = new Uint32Array([12]);
    const rc = (linux ??= openLinux()).getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred) as Pointer, ptr(len) as Pointer);
    if (rc !== 0) return null;
    return { pid: cred[0]!, uid: cred[1]! >>> 0, gid: cred[2]! >>> 0 };
  }
  if (process.platform === "darwin") {
    const lib = (darwin ??= openDarwin());
    const uid = new Uint32Array(1);
    const gid = new Uint32Array(1);
    if (lib.getpeereid(fd, ptr(uid) as Pointer, ptr(gid) as Pointer) !== 0) return null;
    const pid = new Int32Array(1);
    const len = new Uint32Array([4]);
    const rc = lib.getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, ptr(pid) as Pointer, ptr(len) as Pointer);
    return { pid: rc === 0 ? pid[0]! : 0, uid: uid[0]!, gid: gid[0]! };
  }
  return null;
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/**
 * Make writes to `fd` fail with EAGAIN instead of waiting (Linux; false
 * elsewhere or on failure). The flag belongs to the open file description,
 * which every process holding it shares: callers use it only on a pipe or
 * socket of their own (the foreground daemon's stderr), never on a terminal,
 * whose description the shell shares.
 */
export function setNonBlocking(fd: number): boolean {
  if (process.platform !== "linux") return false;
  const c = (linux ??= openLinux());
  const flags = c.fcntl(fd, F_GETFL, 0);
  return flags >= 0 && c.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0;
}
