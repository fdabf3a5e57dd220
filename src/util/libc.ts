import { dlopen, FFIType, read, type FFIFunction } from "bun:ffi";

/**
 * libc through FFI, for the CLI's start-up path: `node:fs` costs ≈ 3–5 ms
 * and `node:tty` ≈ 10 ms to load in a compiled binary whose whole budget is
 * a hello-world's ≈ 16 ms (bench/README.md); binding a few libc symbols
 * costs ≈ 1 ms. Linux and macOS; callers use node: modules on Windows.
 */
export const HAS_LIBC = process.platform === "linux" || process.platform === "darwin";

export function bindLibc<T extends Record<string, FFIFunction>>(symbols: T) {
  return dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", symbols).symbols;
}

let errnoAt: (() => unknown) | undefined;

/** The calling thread's errno (read right after the failed call). */
export function errno(): number {
  if (!errnoAt) {
    const name = process.platform === "darwin" ? "__error" : "__errno_location";
    errnoAt = bindLibc({ [name]: { args: [], returns: FFIType.ptr } })[name] as () => unknown;
  }
  return read.i32(errnoAt() as never, 0);
}

export const EINTR = 4;
export const EPIPE = 32;
/** Linux 11, macOS 35. */
export const EAGAIN = process.platform === "darwin" ? 35 : 11;
