// The daemon's allocator settings (src/client/launch.ts): set by whoever starts
// it, kept out of its services, and known to the Bun the binary is built with.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DAEMON_ALLOCATOR_ENV } from "../../src/client/launch.ts";
import { pinnedEnv, windowsTask } from "../../src/cli/system/units.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { ADI_BIN, waitFor } from "../helpers/env.ts";

const KEY = "MIMALLOC_PURGE_HOLES_MIN_INTERVAL";
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");

describe.skipIf(process.platform !== "linux")("the daemon's allocator settings", () => {
  test("a daemon that `adi daemon start` starts runs with them, a value already set wins, and its services do not inherit them", async () => {
    // Unset, set, and set but empty (mimalloc would read "" as 1 ms).
    for (const [value, expected] of [[undefined, DAEMON_ALLOCATOR_ENV[KEY]], ["250", "250"], ["", DAEMON_ALLOCATOR_ENV[KEY]]] as [string | undefined, string][]) {
      const d = new TestDaemon();
      if (value === undefined) delete d.env[KEY];
      else d.env[KEY] = value;
      try {
        await d.start();
        expect(environ(d.pid()!)).toContain(`${KEY}=${expected}`);
        expect((await d.cli(["daemon", "start", "child", "--", "sleep", "1000"])).code).toBe(0);
        let pid = 0;
        await waitFor(async () => (pid = JSON.parse((await d.cli(["daemon", "services", "--json"])).stdout)[0]?.pid ?? 0) > 0);
        d.extraPids.add(pid);
        expect(environ(pid).filter((entry) => entry.startsWith("MIMALLOC_"))).toEqual([]);
      } finally {
        await d.cleanup();
      }
    }
  }, 60_000);

  test("the units `adi daemon enable` writes set them too, unless the user set a value; Windows' note is about ADI_* only", () => {
    expect(pinnedEnv({ ADI_HOME: "/h", PATH: "/bin" })).toEqual({ ADI_HOME: "/h", [KEY]: DAEMON_ALLOCATOR_ENV[KEY]! });
    expect(pinnedEnv({ [KEY]: "250" })).toEqual({ [KEY]: "250" });
    expect(pinnedEnv({ [KEY]: "" })).toEqual({ [KEY]: DAEMON_ALLOCATOR_ENV[KEY]! });
    const task = (env: Record<string, string>) => windowsTask({ launcher: ["C:\\adi.exe"], env: pinnedEnv(env) }, { LOCALAPPDATA: "C:\\L" }).notes;
    expect(task({})).toEqual([]);
    expect(task({ ADI_HOME: "C:\\h" })).toEqual(["set ADI_* variables in your user environment: Scheduled Tasks do not carry them"]);
  });

  test("the binary's mimalloc knows the option (a Bun upgrade that drops it fails here)", () => {
    const r = Bun.spawnSync([ADI_BIN, "--version"], { env: { ...process.env, MIMALLOC_VERBOSE: "1", [KEY]: "4321" }, stdout: "ignore", stderr: "pipe" });
    expect(r.stderr.toString()).toContain("option 'purge_holes_min_interval': 4321");
  });
});
