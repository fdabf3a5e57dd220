import { dlopen, FFIType, read, type FFIFunction } from "bun:ffi";

/**
 * libc through FFI, for the CLI's start-up path: `node:fs` costs ≈ 3–5 ms
 * and `node:tty` ≈ 10 ms to load in a compiled binary whose whole budget is
 * a hello-world's ≈ 16 ms (bench/README.md); binding a few libc symbols
 * costs ≈ 1 ms. glibc on Linux, libSystem on macOS; null where there is none
 * to bind (Windows, a musl system), and callers then use node: modules.
 */
const LIBC = process.platform === "linux" ? "libc.so.6" : process.platform === "darwin" ? "libSystem.B.dylib" : null;
const ERRNO = process.platform === "darwin" ? "__error" : "__errno_location";

/**
 * `symbols` bound, plus `errno()`: the errno location is bound in the same
 * dlopen, before any call, so nothing runs between a failed call and the read.
 */
export function bindLibc<T extends Record<string, FFIFunction>>(symbols: T) {
  if (!LIBC) return null;
  let lib;
  try {
    lib = dlopen(LIBC, { ...symbols, [ERRNO]: { args: [], returns: FFIType.ptr } });
  } catch {
    return null;
  }
  const at = lib.symbols[ERRNO] as unknown as () => number;
  return Object.assign(lib.symbols as unknown as { [K in keyof T]: (typeof lib.symbols)[K] }, { errno: () => read.i32(at() as never, 0) });
}

export const EINTR = 4;
export const EPIPE = 32;
/** Linux 11, macOS 35. */
export const EAGAIN = process.platform === "darwin" ? 35 : 11;
