import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import type { RequestKindInit } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive } from "../helpers/env.ts";
import { serviceProcesses } from "../services/helpers.ts";
import { cpuSeconds, mb, percentile, rssBytes } from "./lib.ts";
import { WireClient } from "./wire-client.ts";

const CLIENTS = Number(process.env.ADI_LOAD_CLIENTS ?? 100);
const REQUESTS_PER_CLIENT = Number(process.env.ADI_LOAD_REQUESTS ?? 1_000);
/** Requests each client keeps in flight on its one connection. */
const PIPELINE = 4;
/**
 * Service churn is bounded for CI on a 2-core box (each start/stop spawns and
 * reaps a process group and sweeps /proc, the slow part): CHURN_CLIENTS of the
 * 100 clients start and stop their own service START_STOP_PAIRS times within
 * their 1,000 requests. More: `ADI_LOAD_PAIRS=3 ADI_LOAD_CHURN_CLIENTS=100`.
 */
const START_STOP_PAIRS = Number(process.env.ADI_LOAD_PAIRS ?? 2);
const CHURN_CLIENTS = Number(process.env.ADI_LOAD_CHURN_CLIENTS ?? 20);

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = new TestDaemon();
  await daemon.start();
  const c = daemon.client();
  // A chatty service, so `logs` has lines to return.
  await c.startService("talker", { command: "sh", args: ["-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.2; done"] });
  c.close();
});

afterAll(async () => {
  await daemon.cleanup();
  for (const pid of serviceProcesses(daemon)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

type Expect = "pong" | "services" | "logs" | "ok" | "status";

test(`load: ${CLIENTS} concurrent clients x ${REQUESTS_PER_CLIENT} mixed requests, 0 errors, every response matched to its id`, async () => {
  const pid = daemon.pid()!;
  const rss0 = rssBytes(pid)!;
  const cpu0 = cpuSeconds(pid);
  const selfCpu0 = cpuSeconds(process.pid);
  const latencies: number[] = [];
  const errors: string[] = [];
  const mismatches: string[] = [];
  const counts: Record<Expect, number> = { pong: 0, services: 0, logs: 0, ok: 0, status: 0 };

  const runClient = async (n: number) => {
    const c = await WireClient.connect(daemon.socket);
    const name = `load-${n}`;
    // The plan: mostly reads, with start/stop pairs spread through it.
    const plan: Array<[RequestKindInit, Expect]> = [];
    const pairs = n < CHURN_CLIENTS ? START_STOP_PAIRS : 0;
    const churnAt = new Set(Array.from({ length: pairs }, (_, k) => Math.floor(((k + 0.5) * REQUESTS_PER_CLIENT) / pairs)));
    while (plan.length < REQUESTS_PER_CLIENT) {
      const i = plan.length;
      if (churnAt.has(i)) {
        plan.push([{ case: "startService", value: { name, config: { command: "sleep", args: ["1000"], stopTimeoutMs: 2_000 } } }, "ok"]);
        plan.push([{ case: "stopService", value: { name, force: false } }, "ok"]);
        continue;
      }
      const r = (i * 7 + n) % 20;
      if (r < 11) plan.push([{ case: "ping", value: {} }, "pong"]);
      else if (r < 16) plan.push([{ case: "listServices", value: {} }, "services"]);
      else if (r < 19) plan.push([{ case: "serviceLogs", value: { name: "talker", lines: 20, follow: false } }, "logs"]);
      else plan.push([{ case: "status", value: {} }, "status"]);
    }
    const send = async ([kind, expected]: [RequestKindInit, Expect]) => {
      const t0 = performance.now();
      try {
        const r = await c.request(kind);
        latencies.push(performance.now() - t0);
        if (r.kind.case !== expected) errors.push(`${kind.case}: expected ${expected}, got ${r.kind.case} ${r.kind.case === "error" ? r.kind.value.message : ""}`);
        else counts[expected]++;
      } catch (e) {
        errors.push(`${kind.case}: ${e}`);
      }
    };
    // Churn runs in its own lane, in order (a stop never overtakes its start);
    // reads are pipelined beside it in the other lanes.
    const isChurn = ([k]: [RequestKindInit, Expect]) => k.case === "startService" || k.case === "stopService";
    const churn = plan.filter(isChurn);
    const reads = plan.filter((p) => !isChurn(p));
    const churnLane = (async () => {
      for (const item of churn) await send(item);
    })();
    let next = 0;
    const lane = async () => {
      while (next < reads.length) await send(reads[next++]!);
    };
    await Promise.all([churnLane, ...Array.from({ length: PIPELINE - 1 }, lane)]);
    mismatches.push(...c.mismatches);
    c.close();
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => runClient(n)));
  const seconds = (performance.now() - t0) / 1000;
  const rss1 = rssBytes(pid)!;
  const sorted = latencies.sort((a, b) => a - b);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(
    `load: ${CLIENTS} clients x ${REQUESTS_PER_CLIENT} requests = ${latencies.length} answered in ${seconds.toFixed(1)} s (${Math.round(latencies.length / seconds)} req/s, CPU: daemon ${(cpuSeconds(pid) - cpu0).toFixed(1)} s, clients ${(cpuSeconds(process.pid) - selfCpu0).toFixed(1)} s); ` +
      `mix: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")} (${Math.min(CLIENTS, CHURN_CLIENTS) * START_STOP_PAIRS} start/stop pairs); ` +
      `latency p50 ${percentile(sorted, 50).toFixed(2)} ms p99 ${percentile(sorted, 99).toFixed(2)} ms max ${sorted.at(-1)!.toFixed(1)} ms; ` +
      `errors ${errors.length}, id mismatches ${mismatches.length}; daemon RSS ${mb(rss0)} -> ${mb(rss1)} MB`,
  );
  if (errors.length) console.log(`load: first errors: ${errors.slice(0, 5).join(" | ")}`);
  expect(errors).toEqual([]);
  expect(mismatches).toEqual([]);
  expect(total).toBe(CLIENTS * REQUESTS_PER_CLIENT);
  expect(pidAlive(pid)).toBe(true);

  // Every ad-hoc service ended stopped, and none of their processes is left.
  const c = daemon.client();
  const list = await c.listServices();
  c.close();
  const load = list.filter((s) => s.name.startsWith("load-"));
  expect(load.length).toBe(START_STOP_PAIRS > 0 ? Math.min(CLIENTS, CHURN_CLIENTS) : 0);
  expect(load.filter((s) => s.state !== ServiceState.STOPPED)).toEqual([]);
  // One look per pid: the talker starts a short `sleep` every 200 ms, so two
  // separate scans would disagree about it.
  const churnLeft = serviceProcesses(daemon).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "utf8").split("\0").some((v) => v.startsWith("ADI_SERVICE_NAME=load-"));
    } catch {
      return false; // gone since the scan
    }
  });
  expect(churnLeft).toEqual([]);
}, 110_000);
