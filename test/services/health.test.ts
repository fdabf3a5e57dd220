import { afterEach, describe, expect, test } from "bun:test";
import { resolvePaths } from "../../src/config.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { ServiceManager } from "../../src/daemon/services/manager.ts";
import { createServiceConfig } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { EventKind, ServiceState, type ServiceEvent } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { tempHome, waitFor } from "../helpers/env.ts";
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
