import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";

const daemons: TestDaemon[] = [];
function newDaemon(env: Record<string, string> = {}): TestDaemon {
  const d = new TestDaemon({ env });
  daemons.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

describe("a daemon that cannot start says why", () => {
  test("in the background: the reason is in daemon.log, and `adi daemon start` points there", async () => {
    const d = newDaemon();
    // A plain file where the socket goes: the client sees no daemon, the daemon it starts refuses the path.
    mkdirSync(d.home, { recursive: true, mode: 0o700 });
    writeFileSync(d.socket, "not a socket");
    const r = await d.cli(["daemon", "start"]);
    expect(r.code).toBe(3);
    const log = join(d.home, "logs", "daemon.log");
    expect(r.stderr).toContain(`the daemon exited with code 1 while starting: its log says why (${log}), or run \`adi daemon run\``);
    expect(readFileSync(log, "utf8")).toMatch(new RegExp(`ERROR the daemon could not start error=".*${d.socket} exists and is not a socket; remove it"`));
  });

  test("a socket path longer than sockaddr_un holds: one clear line, exit 2, for the daemon and its clients", async () => {
    const long = newDaemon();
    const socket = join(long.home, "s".repeat(120));
    for (const args of [["daemon", "run"], ["daemon", "status"]]) {
      const r = await long.cli(args, { env: { ADI_DAEMON_SOCKET: socket } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`error: ${socket}: a socket path may be at most 107 bytes, this one is ${socket.length}: set ADI_DAEMON_SOCKET (or ADI_HOME) to a shorter one\n`);
    }
    const name = `@${"a".repeat(107)}`;
    const abstract = await long.cli(["daemon", "run"], { env: { ADI_DAEMON_SOCKET: name } });
    expect(abstract.code).toBe(2);
    expect(abstract.stderr).toContain("an abstract socket name (@ included) may be at most 107 bytes, this one is 108");
  });

  test("a socket the daemon cannot bind: one line naming the path and the cause, no stack", async () => {
    if (process.platform !== "linux") return console.log("skip: /proc is Linux's");
    const d = newDaemon();
    const r = await d.cli(["daemon", "run"], { env: { ADI_DAEMON_SOCKET: "/proc/adi-t.sock" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot listen on \/proc\/adi-t\.sock: E[A-Z]+\n$/);
  });
});
