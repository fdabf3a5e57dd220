import { afterEach, expect, test } from "bun:test";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, serviceSessions } from "../services/helpers.ts";
import { daemonsOf } from "./lib.ts";

afterEach(cleanupDaemons);

test("20 CLI invocations racing (daemon start/stop, start/stop of one service) end consistent, with exactly one daemon", async () => {
  const d = newDaemon();
  const mix: string[][] = [];
  for (let i = 0; i < 20; i++) {
    switch (i % 5) {
      case 0:
        mix.push(["daemon", "start"]);
        break;
      case 1:
        mix.push(["daemon", "start", "racer", "--", "sleep", "1000"]);
        break;
      case 2:
        mix.push(["daemon", "stop", "racer"]);
        break;
      case 3:
        mix.push(i === 3 ? ["daemon", "stop"] : ["daemon", "start", "racer", "--", "sleep", "1000"]);
        break;
      default:
        mix.push(["daemon", "services", "--json"]);
    }
  }
  const results = await Promise.all(mix.map((args) => d.cli(args)));
  const codes = results.map((r, i) => `${mix[i]!.slice(1).join(" ")} -> ${r.code}`);
  console.log(`race: ${codes.join("; ")}`);
  // Every invocation ends with a defined exit code: success, operation failed, or not running (raced with the stop).
  for (const r of results) expect([0, 1, 3]).toContain(r.code);
  // At most one daemon survived the race; one more start gives exactly one.
  await waitFor(() => daemonsOf(d.home).length <= 1, 10_000, "at most one daemon");
  expect((await d.cli(["daemon", "start"])).code).toBe(0);
  await waitFor(() => daemonsOf(d.home).length === 1, 10_000, "exactly one daemon");
  // The service is in a settled state consistent with its processes.
  const c = d.client();
  let info = (await c.listServices()).find((s) => s.name === "racer");
  await waitFor(async () => {
    info = (await c.listServices()).find((s) => s.name === "racer");
    return info === undefined || info.state === ServiceState.RUNNING || info.state === ServiceState.STOPPED;
  }, 15_000, "racer to settle");
  const sessions = serviceSessions(d, "racer").size;
  if (info?.state === ServiceState.RUNNING) expect(sessions).toBe(1);
  else await waitFor(() => serviceSessions(d, "racer").size === 0, 5_000, "no racer process when stopped");
  console.log(`race: one daemon (${daemonsOf(d.home).join(",")}); racer ${info ? ServiceState[info.state] : "undefined"} with ${sessions} live session(s)`);
  // A final stop/start pair of the service still works.
  expect((await d.cli(["daemon", "start", "racer", "--", "sleep", "1000"])).code).toBe(0);
  await waitFor(() => serviceSessions(d, "racer").size === 1, 5_000, "one racer");
  c.close();
}, 90_000);
