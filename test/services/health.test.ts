import { afterEach, describe, expect, test } from "bun:test";
import { EventKind, ServiceState, type ServiceEvent } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { waitFor } from "../helpers/env.ts";
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
});
