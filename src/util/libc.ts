import { dlopen, FFIType, read } from "bun:ffi";

/**
 * libc through FFI, for the CLI's start-up path: `node:fs` costs ≈ 3–5 ms
 * and `node:tty` ≈ 10 ms to load in a compiled binary whose whole budget is
 * a hello-world's ≈ 16 ms (bench/README.md). glibc on Linux, libSystem on
 * macOS; null where there is none to bind (Windows, a musl system), and
 * callers then use node: modules.
 *
 * Every symbol the CLI calls is bound in one dlopen, once: each dlopen has
 * TinyCC compile trampolines, ≈ 0.5–1 ms (bench/README.md). The socket is
 * read and written with read(2)/write(2), which output needs anyway, not
 * recv/send: Bun ignores SIGPIPE, so writing to a peer that has gone fails
 * with EPIPE either way.
 */
const LIBC = process.platform === "linux" ? "libc.so.6" : process.platform === "darwin" ? "libSystem.B.dylib" : null;
const ERRNO = process.platform === "darwin" ? "__error" : "__errno_location";

const { i32, i64, u32, u64, ptr } = FFIType;
const SYMBOLS = {
  write: { args: [i32, ptr, u64], returns: i64 },
  isatty: { args: [i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64 },
  socket: { args: [i32, i32, i32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
} as const;

function bind() {
  if (!LIBC) return null;
  let lib;
  try {
    // The errno location is bound in the same dlopen, before any call, so nothing runs between a failed call and its read.
    lib = dlopen(LIBC, { ...SYMBOLS, [ERRNO]: { args: [], returns: ptr } });
  } catch {
    return null;
  }
  const at = (lib.symbols as unknown as Record<string, () => number>)[ERRNO]!;
  const symbols = lib.symbols as unknown as { [K in keyof typeof SYMBOLS]: (typeof lib.symbols)[K] };
  return Object.assign(symbols, { errno: () => read.i32(at() as never, 0) });
}

let bound: ReturnType<typeof bind> | undefined;

/** The bound symbols plus `errno()`, or null where there is no libc to bind. */
export function libc(): ReturnType<typeof bind> {
  if (bound === undefined) bound = bind();
  return bound;
}

export const EINTR = 4;
export const EPIPE = 32;
/** Linux 11, macOS 35. */
export const EAGAIN = process.platform === "darwin" ? 35 : 11;
