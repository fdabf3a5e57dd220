import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindLibc, libc } from "../../src/client/libc.ts";

/** `body` with the path of a file in a fresh directory; returns what was written to it. */
function writtenTo(body: (file: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "adi-libc-"));
  try {
    const file = join(dir, "f");
    body(file);
    return readFileSync(file, "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `body` with `file` open for writing and reading. */
function withFd(file: string, body: (fd: number) => void): void {
  const fd = openSync(file, "a+");
  try {
    body(fd);
  } finally {
    closeSync(fd);
  }
}

// The CLI's libc calls are bound with Bun.FFI's native dlopen (src/client/libc.ts). Should a Bun
// upgrade drop or change it, libc() turns null and every caller quietly takes its slower
// node: path instead; these tests make that visible.
describe.skipIf(process.platform !== "linux")("libc through Bun.FFI", () => {
  const c = libc()!;

  test("is bound on Linux; a library that cannot be opened gives null (callers then use node: modules)", () => {
    expect(c).not.toBeNull();
    expect(bindLibc("libadi-no-such-library.so.9")).toBeNull();
  });

  test("write and read move bytes; a view writes only its own bytes", () => {
    const text = writtenTo((file) => {
      withFd(file, (fd) => expect(c.write(fd, new TextEncoder().encode("xxhello").subarray(2))).toBe(5));
      withFd(file, (fd) => {
        const into = new Uint8Array(16);
        expect(c.read(fd, into)).toBe(5);
        expect(new TextDecoder().decode(into.subarray(0, 5))).toBe("hello");
      });
    });
    expect(text).toBe("hello");
  });

  test("an fd that is no int32 value (a double) reaches libc as its integer part", () => {
    // bun:ffi's wrapper truncates it (`| 0`); the binding skips the wrapper and relies on the
    // native trampoline doing the same. A poll timeout computed from performance.now() is such a number.
    expect(writtenTo((file) => withFd(file, (fd) => expect(c.write(fd + 0.25, new TextEncoder().encode("ok"))).toBe(2)))).toBe("ok");
  });

  test("a failed call leaves its errno", () => {
    expect(c.close(-1)).toBe(-1);
    expect(c.errno()).toBe(9); // EBADF
    expect(c.isatty(-1)).toBe(0);
    expect(c.errno()).toBe(9);
  });
});
