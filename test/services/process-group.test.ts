import { afterEach, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { sessionMembers } from "../../src/daemon/services/process-group.ts";

// sessionMembers reads /proc once for every call made before the current microtasks have run:
// stopping 100 services at once scanned the host's processes at least 200 times.

const onLinux = process.platform === "linux";
if (!onLinux) console.log("skipped: sessionMembers scans /proc, which only Linux has");

const started: Subprocess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});

test.skipIf(!onLinux)("calls before the microtasks have run share one scan; the next run scans again", async () => {
  sessionMembers(process.pid); // this run's scan, taken before the child exists
  const child = Bun.spawn(["/bin/sleep", "30"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  started.push(child);
  expect(sessionMembers(child.pid)).toEqual([]);
  await Promise.resolve();
  expect(sessionMembers(child.pid)).toEqual([child.pid]);
});
