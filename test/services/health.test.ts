import { afterEach, describe, expect, test } from "bun:test";
import { resolvePaths } from "../../src/config.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { ServiceManager } from "../../src/daemon/services/manager.ts";
import { createServiceConfig } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { EventKind, ServiceState, type ServiceEvent } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { environOf, killCarrying, tempHome, waitFor } from "../helpers/env.ts";
import { runProbe } from "../../src/daemon/services/health.ts";
import { liveProcesses } from "../../src/util/proc-stat.ts";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupDaemons, newDaemon, serviceInfo, sessionProcesses } from "./helpers.ts";

afterEach(cleanupDaemons);

describe("health probes and events", () => {
  test("an unhealthy service is restarted through the restart policy; a healthy one is left alone; events say so", async () => {
    const d = newDaemon();
    await d.start();
    const client = d.client();
    const events: ServiceEvent[] = [];
    const watching = (async () => {
      for await (const e of client.watchEvents()) events.push(e);
    })();
    await Bun.sleep(100);
    try {
      const health = { intervalMs: 100, timeoutMs: 500, failureThreshold: 2 };
      await client.startService("sick", {
        command: "sleep",
        args: ["1000"],
        restartOnFailure: true,
        maxRestarts: 5,
        stopTimeoutMs: 1000,
        health: { ...health, probe: { case: "tcp", value: "127.0.0.1:1" } },
      });
      await client.startService("fine", {
        command: "sleep",
        args: ["1000"],
        restartOnFailure: true,
        maxRestarts: 5,
        health: { ...health, probe: { case: "command", value: { command: "true", args: [] } } },
      });
      const firstPid = (await serviceInfo(d, "sick"))!.pid;
      await waitFor(async () => ((await serviceInfo(d, "sick"))?.restarts ?? 0) >= 1, 5_000, "a health restart");
      const sick = (await serviceInfo(d, "sick"))!;
      expect(sick.lastError).toContain("unhealthy (cannot connect to 127.0.0.1:1");
      expect(sessionProcesses(firstPid)).toEqual([]);
      await waitFor(() => events.some((e) => e.service === "sick" && e.kind === EventKind.RESTARTING), 2_000, "a restarting event");
      expect(events.some((e) => e.service === "sick" && e.kind === EventKind.UNHEALTHY)).toBe(true);

      const fine = (await serviceInfo(d, "fine"))!;
      expect(fine.state).toBe(ServiceState.RUNNING);
      expect(fine.restarts).toBe(0);
      expect(events.some((e) => e.service === "fine" && e.kind === EventKind.STARTED)).toBe(true);
      expect(events.some((e) => e.service === "fine" && e.kind !== EventKind.STARTED)).toBe(false);
    } finally {
      client.close();
      await watching.catch(() => {});
    }
  });

  test("a service whose probe never passes reaches max_restarts and FAILED, though each run outlasts the stable time", async () => {
    // Condemned after interval × threshold (≥ 300 ms here, 15 s by default), past stableAfterMs (200 ms here, 10 s by
    // default): counted by its run time alone, each run ended its own streak, and it was restarted at once, forever.
    const t = tempHome();
    const paths = resolvePaths(t.env);
    preparePaths(paths);
    const manager = new ServiceManager({
      paths,
      logger: createLogger(null, "error"),
      warnings: new Set(),
      env: t.env,
      runAs: () => null,
      backoff: { initialDelayMs: 10, maxDelayMs: 50, stableAfterMs: 200 },
    });
    try {
      await manager.init();
      const health = { intervalMs: 100, timeoutMs: 50, failureThreshold: 3, probe: { case: "tcp" as const, value: "127.0.0.1:1" } };
      await manager.start("never-healthy", createServiceConfig({ command: "/bin/sleep", args: ["1000"], restartOnFailure: true, maxRestarts: 2, stopTimeoutMs: 1000, health }));
      const info = () => manager.list().find((s) => s.name === "never-healthy")!;
      await waitFor(() => info().state === ServiceState.FAILED, 10_000, "FAILED after max_restarts");
      expect(info().restarts).toBe(2);
      expect(info().lastError).toContain("max restarts reached (2)");
    } finally {
      await manager.stopAll(false);
      t.cleanup();
    }
  });
});

describe("one probe", () => {
  const carrying = (entry: string) => liveProcesses().filter(({ pid }) => pid !== process.pid && environOf(pid).includes(entry));

  test("a command probe leaves nothing behind: what it started is KILLed with it, on a timeout and after a pass", async () => {
    const id = `${process.pid}-${Date.now()}`;
    const tag = `ADI_T_PROBE=${id}`;
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", ADI_T_PROBE: id };
    try {
      // The old probe KILLed only `sh`: both sleeps lived on, children of init, in the daemon's own group.
      expect(await runProbe({ kind: "command", argv: ["sh", "-c", "sleep 1000 & sleep 1000"] }, 200, env)).toBe("health probe timed out after 200 ms");
      expect(await runProbe({ kind: "command", argv: ["sh", "-c", "sleep 1000 & exit 0"] }, 2_000, env)).toBeNull();
      await waitFor(() => carrying(tag).length === 0, 2_000, "the probes' processes to be gone");
    } finally {
      killCarrying(tag);
    }
  });

  test("a command probe runs in the service's working directory", async () => {
    const t = tempHome();
    try {
      mkdirSync(t.home, { recursive: true });
      writeFileSync(join(t.home, "check.sh"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const env = { PATH: "/usr/bin:/bin" };
      expect(await runProbe({ kind: "command", argv: ["./check.sh"] }, 2_000, env, t.home)).toBeNull();
      expect(await runProbe({ kind: "command", argv: ["sh", "-c", "test -f check.sh"] }, 2_000, env, t.home)).toBeNull();
    } finally {
      t.cleanup();
    }
  });

  test("a connect still pending at the timeout is closed, not left to the kernel", async () => {
    if (!Bun.which("python3")) return console.log("skip: python3 makes the listener that never accepts");
    // A listener with a queue of one, filled, that never accepts: a connect to it waits in SYN-SENT.
    const script = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\np=s.getsockname()[1]\nc=socket.create_connection(('127.0.0.1',p))\nprint(p,flush=True)\ntime.sleep(60)";
    const py = Bun.spawn(["python3", "-c", script], { stdout: "pipe" });
    try {
      const reader = py.stdout.getReader();
      let line = "";
      while (!line.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        line += new TextDecoder().decode(value);
      }
      const port = Number(line.trim());
      expect(port).toBeGreaterThan(0);
      const fds = () => readdirSync("/proc/self/fd").length;
      const before = fds();
      for (let i = 0; i < 20; i++) expect(await runProbe({ kind: "tcp", host: "127.0.0.1", port }, 20, {})).toBe("health probe timed out after 20 ms");
      await Bun.sleep(50);
      // The old probe kept each one open in SYN-SENT (≈ 2 minutes): 20 descriptors more.
      expect(fds() - before).toBeLessThan(5);
    } finally {
      py.kill("SIGKILL");
    }
  });
});
