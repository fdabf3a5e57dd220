import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolvePaths } from "../../src/config.ts";
import { tryAcquireLock } from "../../src/daemon/instance.ts";
import { AdiError, DaemonClient, ErrorCode } from "../../src/client/index.ts";
import { defaultSocketPath, isNamedPipe, socketAddress, WINDOWS_PIPE } from "../../src/protocol/transport.ts";
import { taskkillArgv } from "../../src/util/windows-kill.ts";

/** Platform selection with the platform injected: the Windows and macOS choices, tested on Linux. */

function code(fn: () => unknown): ErrorCode | "no error" {
  try {
    fn();
  } catch (e) {
    if (e instanceof AdiError) return e.code;
    throw e;
  }
  return "no error";
}

describe("Windows", () => {
  const env = { LOCALAPPDATA: "C:\\Users\\ann\\AppData\\Local" };

  test("the daemon listens on the named pipe, everything else under %LOCALAPPDATA%\\adi", () => {
    const p = resolvePaths(env, "win32", "C:\\Users\\ann");
    expect(p.socket).toBe("\\\\.\\pipe\\adi-daemon");
    expect(p.socket).toBe(WINDOWS_PIPE);
    expect(p.home).toBe("C:\\Users\\ann\\AppData\\Local\\adi");
    expect(p.pidFile).toBe("C:\\Users\\ann\\AppData\\Local\\adi\\daemon.pid");
    expect(p.daemonLog).toBe("C:\\Users\\ann\\AppData\\Local\\adi\\logs\\daemon.log");
    expect(p.serviceLogDir).toBe("C:\\Users\\ann\\AppData\\Local\\adi\\logs\\services");
    expect(p.pluginDir).toBe("C:\\Users\\ann\\AppData\\Local\\adi\\plugins");
  });

  test("without LOCALAPPDATA the profile's AppData\\Local is used", () => {
    expect(resolvePaths({}, "win32", "C:\\Users\\bo").home).toBe("C:\\Users\\bo\\AppData\\Local\\adi");
  });

  test("ADI_DAEMON_SOCKET and ADI_HOME still win", () => {
    const p = resolvePaths({ ...env, ADI_DAEMON_SOCKET: "\\\\.\\pipe\\adi-test", ADI_HOME: "D:\\adi" }, "win32", "C:\\Users\\ann");
    expect(p.socket).toBe("\\\\.\\pipe\\adi-test");
    expect(p.home).toBe("D:\\adi");
    // ADI_HOME does not move the pipe: pipes are not files.
    expect(defaultSocketPath({ ADI_HOME: "D:\\adi" }, "win32", "C:\\Users\\ann")).toBe(WINDOWS_PIPE);
  });

  test("a pipe is passed to Bun as is; an abstract socket is refused with a clear error", () => {
    expect(socketAddress(WINDOWS_PIPE, "win32")).toBe(WINDOWS_PIPE);
    expect(socketAddress("//./pipe/adi-daemon", "win32")).toBe(WINDOWS_PIPE);
    expect(code(() => socketAddress("@adi", "win32"))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe("Linux", () => {
  test("XDG_DATA_HOME, else ~/.local/share", () => {
    expect(resolvePaths({}, "linux", "/home/ann").socket).toBe("/home/ann/.local/share/adi/daemon.sock");
    expect(resolvePaths({ XDG_DATA_HOME: "/data" }, "linux", "/home/ann").home).toBe("/data/adi");
    // A relative XDG_DATA_HOME is invalid by the XDG spec, and ignored.
    expect(resolvePaths({ XDG_DATA_HOME: "rel/data" }, "linux", "/home/ann").home).toBe("/home/ann/.local/share/adi");
    expect(resolvePaths({ ADI_HOME: "/srv/adi" }, "linux", "/home/ann").socket).toBe("/srv/adi/daemon.sock");
  });

  test("the default paths are path.join's: trailing slashes, `.`, `..` and `//` in the variables, the root as home", () => {
    const { posix, win32 } = require("node:path") as typeof import("node:path");
    const cases: [Record<string, string>, string][] = [
      [{ ADI_HOME: "/srv/adi/" }, "/home/ann"],
      [{ ADI_HOME: "/srv/adi" }, "/home/ann"],
      [{ ADI_HOME: "/srv/link/../adi" }, "/home/ann"],
      [{ ADI_HOME: "/srv/./adi//" }, "/home/ann"],
      [{ ADI_HOME: "relative/adi" }, "/home/ann"],
      [{ ADI_HOME: "../adi" }, "/home/ann"],
      [{ ADI_HOME: "h" }, "/home/ann"], // one letter: a directory, not the root
      [{ ADI_HOME: "h/" }, "/home/ann"],
      [{ ADI_HOME: "//" }, "/home/ann"],
      [{ XDG_DATA_HOME: "/data//" }, "/home/ann"],
      [{ XDG_DATA_HOME: "/data/.." }, "/home/ann"],
      [{}, "/"],
      [{}, "/home/ann/"],
      [{}, ""],
    ];
    for (const [env, home] of cases) {
      const root = env.ADI_HOME ?? posix.join(env.XDG_DATA_HOME ?? posix.join(home, ".local", "share"), "adi");
      expect(resolvePaths(env, "linux", home).socket).toBe(posix.join(root, "daemon.sock"));
    }
    expect(resolvePaths({}, "win32", "C:\\").home).toBe(win32.join("C:\\", "AppData", "Local", "adi"));
    expect(resolvePaths({ LOCALAPPDATA: "D:/data/" }, "win32", "C:\\Users\\ann").home).toBe("D:\\data\\adi");
  });

  test("@name is the abstract socket \\0name; a pipe name is refused", () => {
    expect(socketAddress("@adi-test", "linux")).toBe("\0adi-test");
    expect(socketAddress("/run/adi.sock", "linux")).toBe("/run/adi.sock");
    expect(code(() => socketAddress(WINDOWS_PIPE, "linux"))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe("macOS", () => {
  test("uses the XDG layout, not ~/Library/Application Support (docs/install.md)", () => {
    const p = resolvePaths({}, "darwin", "/Users/ann");
    expect(p.home).toBe("/Users/ann/.local/share/adi");
    expect(p.socket).toBe("/Users/ann/.local/share/adi/daemon.sock");
    expect(code(() => socketAddress("@adi", "darwin"))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

test("pipe names are recognised in both slash styles, socket paths are not pipes", () => {
  expect(isNamedPipe("\\\\.\\pipe\\adi-daemon")).toBe(true);
  expect(isNamedPipe("//./pipe/adi-daemon")).toBe(true);
  expect(isNamedPipe("/home/ann/.local/share/adi/daemon.sock")).toBe(false);
  expect(isNamedPipe("\\\\.\\pipe\\")).toBe(false);
});

test("the client and the daemon resolve the same default socket", () => {
  const env = { HOME: "/home/zed", XDG_DATA_HOME: "/home/zed/xdg" };
  expect(new DaemonClient({ env }).socketPath).toBe(resolvePaths(env, process.platform, "/home/zed").socket);
  expect(new DaemonClient({ env: { ...env, ADI_DAEMON_SOCKET: "@x" } }).socketPath).toBe("@x");
});

test("the client refuses a pipe name on this (non-Windows) platform instead of dialling it", async () => {
  if (process.platform === "win32") return;
  const client = new DaemonClient({ socketPath: WINDOWS_PIPE });
  const err = await client.ping().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdiError);
  expect((err as AdiError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect((err as AdiError).message).toContain("named pipes exist only on Windows");
});

test("Windows service stop: taskkill /T asks the tree to close, /T /F terminates it", () => {
  expect(taskkillArgv(4242, false)).toEqual(["taskkill", "/PID", "4242", "/T"]);
  expect(taskkillArgv(4242, true)).toEqual(["taskkill", "/PID", "4242", "/T", "/F"]);
  // Never a pid that taskkill would read as something else.
  expect(() => taskkillArgv(0, true)).toThrow(RangeError);
  expect(() => taskkillArgv(-5, true)).toThrow(RangeError);
});

test("instance lock: flock on Linux; on Windows the pipe is the lock, so the file is only opened", () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-lock-"));
  const lockFile = join(dir, "daemon.lock");
  try {
    const first = tryAcquireLock(lockFile, "linux");
    expect(first).not.toBeNull();
    // Held: a second taker on Linux is refused…
    expect(tryAcquireLock(lockFile, "linux")).toBeNull();
    // …while the Windows path never calls flock (which does not exist there).
    const win = tryAcquireLock(lockFile, "win32");
    expect(win).not.toBeNull();
    closeSync(win!);
    closeSync(first!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
