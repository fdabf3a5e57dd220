import { dlopen, FFIType } from "bun:ffi";

/**
 * isatty(3) without `node:tty`: importing that module loads Bun's node:net
 * and costs ≈ 10 ms of every CLI start-up (a compiled hello-world is ≈ 17 ms).
 * libc's own isatty through FFI (≈ 1 ms to bind) on Linux and macOS; node:tty
 * where there is no libc to bind (Windows).
 */
let libcIsatty: ((fd: number) => number) | undefined;

function bindLibc(): (fd: number) => number {
  const lib = process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";
  const { symbols } = dlopen(lib, { isatty: { args: [FFIType.i32], returns: FFIType.i32 } });
  return (fd) => symbols.isatty(fd);
}

/** Whether fd is a terminal (asked once per fd: every paint() asks). */
const known = new Map<number, boolean>();

export function isatty(fd: number): boolean {
  let tty = known.get(fd);
  if (tty === undefined) {
    tty = process.platform === "win32" ? (require("node:tty") as typeof import("node:tty")).isatty(fd) : (libcIsatty ??= bindLibc())(fd) === 1;
    known.set(fd, tty);
  }
  return tty;
}
