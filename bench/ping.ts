/**
 * Ping round trip and pipelined pings/s over the daemon's socket, beside a raw
 * Bun unix-socket 16-byte echo measured in the same run, both servers pinned
 * to the same CPU. Usage: bun bench/ping.ts [--quick]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DaemonClient } from "../src/client/index.ts";
import { BUN, ROOT, perSec, pinned, printTable, summarize, tempDir, us, type Row } from "./lib.ts";

const quick = process.argv.includes("--quick");
const ROUND_TRIPS = quick ? 2_000 : 20_000;
const PIPELINED = quick ? 20_000 : 200_000;
const WINDOW = 256;

async function echoBaseline(socketPath: string) {
  const server = Bun.spawn(pinned(1, [BUN, join(import.meta.dir, "echo-server.ts"), socketPath]), { stdout: "pipe" });
  await server.stdout.getReader().read(); // "ready"
  return server;
}

async function measureEcho(socketPath: string) {
  let onBytes: (n: number) => void = () => {};
  const socket = await Bun.connect({ unix: socketPath, socket: { data: (_s, chunk) => onBytes(chunk.length) } });
  const msg = new Uint8Array(16);
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      onBytes = (n) => {
        got += n;
        if (got >= 16) resolve();
      };
      socket.write(msg);
    });
    samples.push(performance.now() - t0);
  }
  // Pipelined: keep WINDOW messages in flight.
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let received = 0;
    const pump = () => {
      while (sent < PIPELINED && sent - Math.floor(received / 16) < WINDOW) {
        if (socket.write(msg) !== 16) break;
        sent++;
      }
    };
    onBytes = (n) => {
      received += n;
      if (received >= PIPELINED * 16) resolve();
      else pump();
    };
    pump();
  });
  const rate = PIPELINED / ((performance.now() - t0) / 1000);
  socket.end();
  return { ...summarize(samples), rate };
}

async function measureAdi(client: DaemonClient) {
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await client.ping();
    samples.push(performance.now() - t0);
  }
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const launch = () => {
      sent++;
      client.ping().then(() => {
        done++;
        if (done === PIPELINED) resolve();
        else if (sent < PIPELINED) launch();
      }, reject);
    };
    for (let i = 0; i < WINDOW; i++) launch();
  });
  const rate = PIPELINED / ((performance.now() - t0) / 1000);
  return { ...summarize(samples), rate };
}

export async function benchPing(): Promise<Row[]> {
  const tmp = tempDir("adi-bench-");
  const echoPath = join(tmp.dir, "echo.sock");
  const home = join(tmp.dir, "home");
  const binary = join(ROOT, "dist", "adi");
  const launcher = existsSync(binary) ? [binary] : [BUN, join(ROOT, "src", "main.ts")];
  const env = { ...process.env, ADI_HOME: home };
  const echo = await echoBaseline(echoPath);
  const daemon = Bun.spawn(pinned(1, [...launcher, "daemon", "run"]), { env, stderr: "ignore" });
  const client = new DaemonClient({ socketPath: join(home, "daemon.sock"), env, timeoutMs: 30_000 });
  try {
    for (let i = 0; i < 200 && !existsSync(echoPath); i++) await Bun.sleep(10);
    for (let i = 0; i < 200 && !(await client.isRunning()); i++) await Bun.sleep(10);
    // Warm both paths before measuring.
    await measureEcho(echoPath);
    await measureAdi(client);
    const base = await measureEcho(echoPath);
    const adi = await measureAdi(client);
    return [
      { figure: "ping round trip (median)", adi: us(adi.median), baseline: us(base.median), ratio: `${(adi.median / base.median).toFixed(2)}x`, target: "<= 1.5x raw echo" },
      { figure: "ping round trip (p99)", adi: us(adi.p99), baseline: us(base.p99), ratio: `${(adi.p99 / base.p99).toFixed(2)}x` },
      { figure: "pipelined pings, one connection", adi: perSec(adi.rate), baseline: perSec(base.rate), ratio: `${(adi.rate / base.rate).toFixed(2)}x`, target: ">= 100,000/s" },
    ];
  } finally {
    client.close();
    daemon.kill("SIGTERM");
    echo.kill("SIGKILL");
    await daemon.exited;
    tmp.cleanup();
  }
}

if (import.meta.main) printTable(await benchPing());
