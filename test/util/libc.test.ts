import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindLibc, libc } from "../../src/util/libc.ts";

// The CLI's libc calls are bound with Bun.FFI's native dlopen (src/util/libc.ts). Should a Bun
// upgrade drop or change it, libc() turns null and every caller quietly takes its slower
// node: path instead; these tests make that visible.
describe.skipIf(process.platform !== "linux")("libc through Bun.FFI", () => {
  const c = libc()!;

  test("is bound on Linux; a library that cannot be opened gives null (callers then use node: modules)", () => {
    expect(c).not.toBeNull();
    expect(bindLibc("libadi-no-such-library.so.9")).toBeNull();
  });

  test("write and read move bytes; a view writes only its own bytes", () => {
    const dir = mkdtempSync(join(tmpdir(), "adi-libc-"));
    try {
      const file = join(dir, "f");
      const fd = openSync(file, "w+");
      try {
        const bytes = new TextEncoder().encode("xxhello");
        expect(c.write(fd, bytes.subarray(2))).toBe(5);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, "utf8")).toBe("hello");
      const rfd = openSync(file, "r");
      try {
        const into = new Uint8Array(16);
        expect(c.read(rfd, into)).toBe(5);
        expect(new TextDecoder().decode(into.subarray(0, 5))).toBe("hello");
      } finally {
        closeSync(rfd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an fd that is no int32 value (a double) reaches libc as its integer part", () => {
    // bun:ffi's wrapper truncates it (`| 0`); the binding skips the wrapper and relies on the
    // native trampoline doing the same. A poll timeout computed from performance.now() is such a number.
    const dir = mkdtempSync(join(tmpdir(), "adi-libc-"));
    try {
      const file = join(dir, "f");
      const fd = openSync(file, "w");
      try {
        expect(c.write(fd + 0.25, new TextEncoder().encode("ok"))).toBe(2);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(file, "utf8")).toBe("ok");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a failed call leaves its errno", () => {
    expect(c.close(-1)).toBe(-1);
    expect(c.errno()).toBe(9); // EBADF
    expect(c.isatty(-1)).toBe(0);
    expect(c.errno()).toBe(9);
  });
});
