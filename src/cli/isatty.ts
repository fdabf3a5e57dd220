import { libc } from "../client/libc.ts";

/**
 * isatty(3) without `node:tty`: importing that module loads Bun's node:net
 * and costs ≈ 10 ms of every CLI start-up (a compiled hello-world is ≈ 17 ms).
 * libc's own isatty through FFI where there is a libc to bind; node:tty
 * elsewhere (Windows, or where dlopen fails, e.g. musl).
 */
/** Whether fd is a terminal (asked once per fd: every paint() asks). */
const known = new Map<number, boolean>();

export function isatty(fd: number): boolean {
  let tty = known.get(fd);
  if (tty === undefined) {
    const c = libc();
    tty = c ? c.isatty(fd) === 1 : (require("node:tty") as typeof import("node:tty")).isatty(fd);
    known.set(fd, tty);
  }
  return tty;
}
