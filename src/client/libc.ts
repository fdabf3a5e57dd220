/**
 * libc through FFI, for the CLI's start-up path (its output, and the
 * client's blocking socket: blocking-socket.ts): `node:fs` costs ≈ 3–5 ms
 * and `node:tty` ≈ 10 ms to load in a compiled binary whose whole budget is
 * a hello-world's ≈ 16 ms (bench/README.md). glibc on Linux, libSystem on
 * macOS; null where there is none to bind (Windows, a musl system, a Bun
 * without `Bun.FFI`), and callers then use node: modules.
 *
 * Bound with `Bun.FFI.dlopen`, the native function that `bun:ffi`'s dlopen
 * wraps: importing `bun:ffi` and the wrapper it compiles for each symbol
 * (`new Function`) cost ≈ 0.5 ms of every command that talks to the daemon
 * (bench/README.md). The native trampolines convert an i32 argument as the
 * wrapper would (truncated like `| 0`; tested), and take a typed array for a
 * pointer (its bytes). Every symbol is bound in one dlopen,
 * once: a dlopen costs ≈ 0.3 ms, its first TinyCC compile ≈ 0.4 ms, each
 * further symbol ≈ 0.06 ms (on a VM where hello-world took 16 ms; the whole
 * binding 0.15–0.19 ms on one where it takes 2.7). The socket is read and written with
 * read(2)/write(2), which output needs anyway, not recv/send: Bun ignores
 * SIGPIPE, so writing to a peer that has gone fails with EPIPE either way.
 */
const LIBC = process.platform === "linux" ? "libc.so.6" : process.platform === "darwin" ? "libSystem.B.dylib" : null;
const ERRNO = process.platform === "darwin" ? "__error" : "__errno_location";

/** bun:ffi's FFIType codes. */
const I32 = 5;
const U32 = 6;
/** A number where it fits in one (i64 would return a BigInt). */
const I64_FAST = 15;
const U64 = 8;
const PTR = 12;

const SYMBOLS = {
  write: { args: [I32, PTR, U64], returns: I64_FAST },
  isatty: { args: [I32], returns: I32 },
  read: { args: [I32, PTR, U64], returns: I64_FAST },
  socket: { args: [I32, I32, I32], returns: I32 },
  connect: { args: [I32, PTR, U32], returns: I32 },
  poll: { args: [PTR, U64, I32], returns: I32 },
  close: { args: [I32], returns: I32 },
  [ERRNO]: { args: [], returns: PTR },
};

/** What `Bun.FFI` holds (undeclared in bun-types): the natives behind bun:ffi's dlopen and read. */
interface NativeFfi {
  dlopen(path: string, symbols: typeof SYMBOLS): { symbols: Record<string, (...args: unknown[]) => number> } | Error;
  read: { i32(address: number, offset: number): number };
}

/** The calls the CLI makes; pointers are typed arrays. */
export interface Libc {
  write(fd: number, bytes: Uint8Array): number;
  read(fd: number, into: Uint8Array): number;
  isatty(fd: number): number;
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, address: Uint8Array): number;
  /** `pollfds`: struct pollfd[] as int32 pairs ({ int fd; short events; short revents }). */
  poll(pollfds: Int32Array, timeoutMs: number): number;
  close(fd: number): number;
  errno(): number;
}

/** The calls bound from `library`; null when there is no `Bun.FFI` or the library cannot be opened. */
export function bindLibc(library: string): Libc | null {
  const ffi = (globalThis.Bun as unknown as { FFI?: NativeFfi }).FFI;
  if (typeof ffi?.dlopen !== "function") return null;
  let lib;
  try {
    // The errno location is bound in the same dlopen, before any call, so nothing runs between a failed call and its read.
    lib = ffi.dlopen(library, SYMBOLS);
  } catch {
    return null;
  }
  if (lib instanceof Error) return null; // the native dlopen returns its error (bun:ffi's wrapper throws it)
  const { write, read, isatty, socket, connect, poll, close, [ERRNO]: errnoAt } = lib.symbols;
  return {
    write: (fd, bytes) => write!(fd, bytes, bytes.length),
    read: (fd, into) => read!(fd, into, into.length),
    isatty: isatty!,
    socket: socket!,
    connect: (fd, address) => connect!(fd, address, address.length),
    poll: (pollfds, timeoutMs) => poll!(pollfds, pollfds.length >> 1, timeoutMs),
    close: close!,
    errno: () => ffi.read.i32(errnoAt!(), 0),
  };
}

let bound: Libc | null | undefined;

/** The bound calls, or null where there is no libc to bind. */
export function libc(): Libc | null {
  if (bound === undefined) bound = LIBC ? bindLibc(LIBC) : null;
  return bound;
}

export const EINTR = 4;
export const EPIPE = 32;
/** Linux 11, macOS 35. */
export const EAGAIN = process.platform === "darwin" ? 35 : 11;
