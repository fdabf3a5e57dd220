/**
 * Soak: long mixed load + service churn + a log flood + a periodic kill -9 of
 * the daemon, against the compiled binary (dist/adi; ADI_TEST_CLI=source for
 * the source). Run by hand:
 *
 *   bun bench/soak.ts --minutes 10 [--kill-every 60] [--clients 20]
 *
 * Prints the daemon's RSS at the start and end (of each daemon generation and
 * overall), requests served, errors (only those outside a kill window count as
 * failures), daemon restarts, service churn, and checks at the end that every
 * wanted service runs exactly once with no orphan.
 */
import { parseArgs } from "node:util";
import { ServiceState } from "../src/gen/adi/daemon/v1/daemon_wire.ts";
import type { RequestKindInit } from "../src/protocol/index.ts";
import { TestDaemon } from "../test/helpers/daemon.ts";
import { pidAlive, sleep, waitFor } from "../test/helpers/env.ts";
import { daemonsOf, mb, percentile, rssBytes } from "../test/hardening/lib.ts";
import { WireClient } from "../test/hardening/wire-client.ts";
import { serviceProcesses, serviceSessions } from "../test/services/helpers.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "kill-every": { type: "string", default: "60" },
    clients: { type: "string", default: "20" },
  },
});
const minutes = Number(values.minutes);
const killEveryMs = Number(values["kill-every"]) * 1000;
const clients = Number(values.clients);

const d = new TestDaemon();
let stopping = false;
const stats = { served: 0, errors: 0, errorsOutsideKill: 0, restarts: 0, churnStarts: 0, churnStops: 0, churnErrors: 0 };
const latencies: number[] = [];
let killWindowUntil = 0;
const rssByGeneration: string[] = [];

async function main(): Promise<void> {
  await d.start();
  const c = d.client({ timeoutMs: 10_000 });
  await c.startService("flood", { command: "sh", args: ["-c", "yes 'soak flood line soak flood line soak flood line'"], restartOnFailure: true, maxRestarts: 100 });
  await c.startService("steady", { command: "sh", args: ["-c", "sleep 100000 & sleep 100000 & wait"], restartOnFailure: true, maxRestarts: 100 });
  await c.startService("ticker", { command: "sh", args: ["-c", "while :; do echo tick; sleep 0.05; done"], restartOnFailure: true, maxRestarts: 100 });
  c.close();
  await sleep(3_000);
  const firstPid = d.pid()!;
  const rssStart = rssBytes(firstPid)!;
  console.log(`soak: ${minutes} min, ${clients} clients, kill -9 every ${killEveryMs / 1000} s; daemon ${firstPid} RSS at start ${mb(rssStart)} MB`);

  const loadWorker = async (n: number) => {
    const kinds: RequestKindInit[] = [
      { case: "ping", value: {} },
      { case: "listServices", value: {} },
      { case: "serviceLogs", value: { name: "ticker", lines: 20, follow: false } },
      { case: "status", value: {} },
    ];
    let i = n;
    while (!stopping) {
      let w: WireClient;
      try {
        w = await WireClient.connect(d.socket);
      } catch {
        await sleep(100);
        continue;
      }
      while (!stopping && !w.closed) {
        const t0 = performance.now();
        try {
          const r = await w.request(kinds[i++ % kinds.length]!);
          if (r.kind.case === "error") throw new Error(r.kind.value.message);
          latencies.push(performance.now() - t0);
          if (latencies.length > 200_000) latencies.splice(0, 100_000);
          stats.served++;
        } catch {
          stats.errors++;
          if (performance.now() > killWindowUntil) stats.errorsOutsideKill++;
          break;
        }
      }
      w.close();
    }
  };

  const churnWorker = async () => {
    let k = 0;
    while (!stopping) {
      const cl = d.client({ timeoutMs: 10_000 });
      try {
        const name = `churn-${k++ % 5}`;
        await cl.startService(name, { command: "sleep", args: ["1000"], stopTimeoutMs: 2_000 });
        stats.churnStarts++;
        await sleep(200);
        await cl.stopService(name);
        stats.churnStops++;
      } catch {
        stats.churnErrors++;
        await sleep(500);
      } finally {
        cl.close();
      }
    }
  };

  const killer = async () => {
    while (!stopping) {
      await sleep(killEveryMs);
      if (stopping) break;
      const pid = d.pid();
      if (pid === null) continue;
      rssByGeneration.push(`${pid}: ${mb(rssBytes(pid) ?? 0)} MB`);
      killWindowUntil = performance.now() + 15_000;
      process.kill(pid, "SIGKILL");
      await waitFor(() => !pidAlive(pid), 10_000, "daemon death");
      const r = await d.cli(["daemon", "start"]);
      if (r.code !== 0) console.log(`soak: restart failed (${r.code}): ${r.stderr}`);
      stats.restarts++;
      console.log(`soak: kill -9 #${stats.restarts} of ${pid}; new daemon ${d.pid()}; served so far ${stats.served}`);
    }
  };

  const workers = [...Array.from({ length: clients }, (_, n) => loadWorker(n)), churnWorker(), killer()];
  await sleep(minutes * 60_000);
  stopping = true;
  await Promise.race([Promise.all(workers), sleep(killEveryMs + 30_000)]);

  // Settle, then check: one daemon, wanted services once each, no churn service left running.
  await sleep(3_000);
  const endPid = d.pid()!;
  const rssEnd = rssBytes(endPid)!;
  const cl = d.client();
  const list = await cl.listServices();
  cl.close();
  const once = ["flood", "steady", "ticker"].map((n) => `${n} ${ServiceState[list.find((s) => s.name === n)?.state ?? 0]} sessions=${serviceSessions(d, n).size}`);
  const churnLeft = list.filter((s) => s.name.startsWith("churn-") && s.state === ServiceState.RUNNING).map((s) => s.name);
  const sorted = latencies.sort((a, b) => a - b);
  console.log(`soak: RSS at start ${mb(rssStart)} MB (daemon ${firstPid}); at end ${mb(rssEnd)} MB (daemon ${endPid}); per generation before its kill: ${rssByGeneration.join(", ") || "-"}`);
  console.log(
    `soak: requests served ${stats.served}; errors ${stats.errors} (${stats.errorsOutsideKill} outside kill windows); latency p50 ${percentile(sorted, 50).toFixed(2)} ms p99 ${percentile(sorted, 99).toFixed(2)} ms; ` +
      `daemon restarts (kill -9) ${stats.restarts}; churn starts ${stats.churnStarts} stops ${stats.churnStops} errors ${stats.churnErrors}`,
  );
  console.log(`soak: end state: daemons ${daemonsOf(d.home).length}; ${once.join("; ")}; churn services still running: ${churnLeft.join(",") || "none"}`);
}

try {
  await main();
} finally {
  stopping = true;
  await d.cleanup();
  for (const pid of serviceProcesses(d)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}
process.exit(0);
