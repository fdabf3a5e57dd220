import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRequest, encodeFrame, FrameDecoder, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME } from "../../src/protocol/index.ts";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive, sleep, waitFor } from "../helpers/env.ts";
import { cpuSeconds, mb, percentile, rssBytes } from "./lib.ts";
import { rng } from "../helpers/rng.ts";

/**
 * Protocol fuzzing against the compiled daemon. Each connection gets one batch
 * generated from (seed, connection number): frames that still decode as a
 * harmless request (their answers are read), then at most one input that
 * breaks the connection (a malformed payload, a wrong length header, random
 * bytes, an oversized frame) placed last, because the daemon closes a
 * connection at its first protocol error. Reproduce a run with ADI_FUZZ_SEED.
 */
const SEED = Number(process.env.ADI_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TARGET_INPUTS = Number(process.env.ADI_FUZZ_INPUTS ?? 100_000);
const PARALLEL = 48;
/** RSS is measured from here on: every input class (huge frames on 48 connections at once included) has reached its high-water mark. */
const WARMUP_INPUTS = 20_000;
const HUGE_RATE = Number(process.env.ADI_FUZZ_HUGE_RATE ?? 0.0005);
const CORPUS_DIR = join(import.meta.dir, "corpus");
const corpus = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith(".bin"))
  .sort()
  .map((f) => new Uint8Array(readFileSync(join(CORPUS_DIR, f))));

/** Request kinds the daemon may act on while fuzzed (nothing that stops it, runs commands or defines services). */
const SAFE_KINDS = new Set([undefined, "ping", "listServices", "serviceLogs", "hello", "watchEvents", "status", "cancelStream", "stopService", "restartService", "startService"]);

/** A protocol error for the daemon (fails to decode, or uses the reserved id 0), as opposed to a request it would act on. */
function isMalformed(payload: Uint8Array): boolean {
  try {
    return decodeRequest(payload).id === 0;
  } catch {
    return true;
  }
}

function isHarmless(payload: Uint8Array): boolean {
  let req;
  try {
    req = decodeRequest(payload);
  } catch {
    return false;
  }
  if (req.id === 0) return false; // a protocol error (isMalformed)
  const kind = req.kind.case;
  if (!SAFE_KINDS.has(kind)) return false;
  // No service may be defined, and the one service under watch may not be touched.
  if (kind === "startService" && req.kind.value.config !== undefined) return false;
  if ((kind === "stopService" || kind === "restartService" || kind === "startService") && req.kind.value.name === "keeper") return false;
  return true;
}

interface Batch {
  bytes: Uint8Array;
  inputs: number;
  harmless: number;
  breaking: string | null;
}

function makeBatch(seed: number, conn: number): Batch {
  const rnd = rng(seed ^ Math.imul(conn + 1, 0x9e3779b1));
  const int = (n: number) => Math.floor(rnd() * n);
  const parts: Uint8Array[] = [];
  const pick = () => corpus[int(corpus.length)]!;
  const mutate = (src: Uint8Array): Uint8Array => {
    let p = new Uint8Array(src);
    const ops = 1 + int(3);
    for (let k = 0; k < ops; k++) {
      switch (int(6)) {
        case 0: // flip bits
          if (p.length) p[int(p.length)]! ^= 1 << int(8);
          break;
        case 1: // truncate
          p = p.subarray(0, int(p.length + 1));
          break;
        case 2: // random byte
          if (p.length) p[int(p.length)] = int(256);
          break;
        case 3: {
          // append an unknown field (varint, fixed64, length-delimited or fixed32)
          const field = 16 + int(2000);
          const wt = [0, 1, 2, 5][int(4)]!;
          const tag = (field << 3) | wt;
          const extra = [tag & 0x7f | 0x80, tag >> 7];
          const body = wt === 0 ? [int(128)] : wt === 1 ? Array(8).fill(int(256)) : wt === 2 ? [3, 1, 2, 3] : [1, 2, 3, 4];
          p = new Uint8Array([...p, ...extra, ...body]);
          break;
        }
        case 4: // an unknown oneof variant: field 16..63 as an empty message
          p = new Uint8Array([...p, (((16 + int(48)) << 3) | 2) & 0x7f | 0x80, ((16 + int(48)) << 3) >> 7, 0]);
          break;
        default: // splice two seeds
          p = new Uint8Array([...p, ...pick()]);
      }
    }
    return p;
  };

  let inputs = 0;
  let harmless = 0;
  const count = 60 + int(120);
  for (let i = 0; i < count; i++) {
    const r = rnd();
    let payload: Uint8Array;
    if (r < HUGE_RATE) {
      // Huge repeated fields, still under the request limit: one unknown field repeated up to 250k times.
      const n = int(10) === 0 ? 200_000 + int(60_000) : 1_000 + int(60_000);
      let seed = pick();
      if (!isHarmless(seed)) seed = corpus[0]!;
      payload = new Uint8Array(seed.length + n * 4);
      payload.set(seed, 0);
      payload.set([0xfa, 0x01, 0x01, 0x41], seed.length); // field 31 = "A"
      for (let filled = 4; filled < n * 4; filled *= 2) payload.copyWithin(seed.length + filled, seed.length, seed.length + Math.min(filled, n * 4 - filled));
      inputs++;
      harmless++;
      parts.push(encodeFrame(payload));
      continue;
    } else if (r < 0.05) {
      payload = pick();
    } else {
      payload = mutate(pick());
    }
    inputs++;
    if (isHarmless(payload)) {
      harmless++;
      parts.push(encodeFrame(payload));
    } else {
      // Decodes badly or would act: send it only as the breaking input, below.
      inputs--;
    }
  }
  // The last input: something that breaks the connection, most of the time.
  let breaking: string | null = null;
  const b = rnd();
  if (b < 0.2) {
    breaking = "malformed payload";
    const p = mutate(pick());
    parts.push(encodeFrame(isMalformed(p) ? p : new Uint8Array([0xff, 0xff, 0xff])));
  } else if (b < 0.35) {
    breaking = "length header too long";
    const p = pick();
    const f = encodeFrame(p);
    new DataView(f.buffer).setUint32(0, p.length + 1 + int(64), true);
    parts.push(f);
  } else if (b < 0.5) {
    breaking = "length header too short";
    const p = mutate(pick());
    const f = encodeFrame(p);
    const short = Math.max(0, p.length - 1 - int(4));
    // What the daemon will take as the frame must not be a request it acts on.
    if (!isMalformed(p.subarray(0, short)) && !isHarmless(p.subarray(0, short))) f.fill(0xff, 4);
    new DataView(f.buffer).setUint32(0, short, true);
    parts.push(f);
  } else if (b < 0.65) {
    breaking = "random bytes";
    parts.push(Uint8Array.from({ length: 1 + int(512) }, () => int(256)));
  } else if (b < 0.7) {
    breaking = "oversized frame";
    const h = new Uint8Array(4);
    new DataView(h.buffer).setUint32(0, MAX_REQUEST_FRAME + 1 + int(2 ** 31), true);
    parts.push(h);
  } else {
    breaking = "truncated frame";
    const f = encodeFrame(pick());
    parts.push(f.subarray(0, int(f.length)));
  }
  if (!breaking) {
    // End the batch with a malformed frame anyway, so the connection closes at once (streams included).
    breaking = "malformed payload";
    parts.push(encodeFrame(new Uint8Array([0xff, 0xff, 0xff])));
  }
  inputs++;
  const total = parts.reduce((n, p) => n + p.length, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, inputs, harmless, breaking };
}

/** Send a batch on a fresh connection; resolve when the daemon closed it or answered every harmless frame. */
async function runBatch(socketPath: string, batch: Batch): Promise<{ answers: number }> {
  let answers = 0;
  const decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const socket = await Bun.connect({
    unix: socketPath,
    socket: {
      data(_s, chunk) {
        try {
          answers += decoder.push(chunk).length;
        } catch {
          done();
        }
        if (!batch.breaking && answers >= batch.harmless) done();
      },
      close: () => done(),
      error: () => done(),
      drain(s) {
        pump(s);
      },
    },
  });
  let offset = 0;
  const pump = (s: typeof socket) => {
    while (offset < batch.bytes.length) {
      const n = s.write(batch.bytes.subarray(offset), 0, batch.bytes.length - offset);
      if (n <= 0) return;
      offset += n;
    }
  };
  pump(socket);
  // Follow streams keep a connection open: a harmless batch ends once answered, or after 3 s.
  await Promise.race([finished, sleep(3_000)]);
  socket.end();
  return { answers };
}

let daemon: TestDaemon;
let failDir: string | null = null;

beforeAll(async () => {
  daemon = new TestDaemon({ env: { ADI_READ_DEADLINE_MS: "300" } });
  await daemon.start();
  const c = daemon.client();
  await c.startService("keeper", { command: "sleep", args: ["1000"] });
  c.close();
});

afterAll(async () => {
  if (failDir) {
    // Keep the daemon's own account of the failure beside the inputs.
    try {
      writeFileSync(join(failDir, "daemon.log"), readFileSync(join(daemon.home, "logs", "daemon.log")));
    } catch {}
  }
  await daemon.cleanup();
});

test(`fuzz: at least ${TARGET_INPUTS} mutated and random inputs; the daemon lives, others are served, RSS stays bounded`, async () => {
  console.log(`fuzz seed ADI_FUZZ_SEED=${SEED} corpus=${corpus.length} seeds from ${CORPUS_DIR}`);
  const pid = daemon.pid()!;
  const client = daemon.client({ timeoutMs: 10_000 });
  const keeperPid = (await client.listServices()).find((s) => s.name === "keeper")!.pid;

  // A well-behaved client pings the whole time.
  let pinging = true;
  const pingLatencies: number[] = [];
  const pingFailures: string[] = [];
  const pinger = (async () => {
    while (pinging) {
      const t0 = performance.now();
      try {
        await client.ping();
        pingLatencies.push(performance.now() - t0);
      } catch (e) {
        pingFailures.push(String(e));
      }
      await sleep(10);
    }
  })();

  let inputs = 0;
  let answers = 0;
  let connections = 0;
  let next = 0;
  let rssStart = 0;
  const breaking = new Map<string, number>();
  const inFlight = new Map<number, Batch>();
  const t0 = performance.now();
  const cpu0 = cpuSeconds(pid);
  const selfCpu0 = cpuSeconds(process.pid);
  let failure: string | null = null;
  const worker = async () => {
    while (inputs < TARGET_INPUTS && !failure) {
      const n = next++;
      const batch = makeBatch(SEED, n);
      inFlight.set(n, batch);
      try {
        const r = await runBatch(daemon.socket, batch);
        answers += r.answers;
      } catch (e) {
        if (!pidAlive(pid)) failure = `daemon died during batch ${n}`;
        else failure = `connect failed during batch ${n}: ${e}`;
        break;
      }
      inFlight.delete(n);
      inputs += batch.inputs;
      connections++;
      if (batch.breaking) breaking.set(batch.breaking, (breaking.get(batch.breaking) ?? 0) + 1);
      // RSS baseline once the daemon has warmed up (JIT, buffers).
      if (rssStart === 0 && inputs >= WARMUP_INPUTS) rssStart = rssBytes(pid) ?? 0;
      if (!pidAlive(pid)) failure = `daemon died after batch ${n}`;
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const daemonCpu = cpuSeconds(pid) - cpu0;
  const fuzzerCpu = cpuSeconds(process.pid) - selfCpu0;
  pinging = false;
  await pinger;
  await sleep(500);
  const rssEnd = rssBytes(pid) ?? Number.NaN;

  if (failure || pingFailures.length > 0 || !pidAlive(pid)) {
    failDir = mkdtempSync(join(tmpdir(), "adi-fuzz-fail-"));
    for (const [n, batch] of inFlight) writeFileSync(join(failDir, `batch-${n}.bin`), batch.bytes);
    console.log(`fuzz FAILURE (${failure ?? pingFailures[0]}): in-flight inputs written to ${failDir}; rerun with ADI_FUZZ_SEED=${SEED}`);
  }

  const sorted = pingLatencies.sort((a, b) => a - b);
  console.log(
    `fuzz: ${inputs} inputs over ${connections} connections in ${seconds.toFixed(1)} s (${Math.round(inputs / seconds)}/s; CPU: daemon ${daemonCpu.toFixed(1)} s, fuzzer ${fuzzerCpu.toFixed(1)} s), ${answers} answers; ` +
      `breaking inputs: ${[...breaking].map(([k, v]) => `${k} ${v}`).join(", ")}`,
  );
  console.log(
    `fuzz: daemon RSS ${mb(rssStart)} MB after ${WARMUP_INPUTS} warm-up inputs -> ${mb(rssEnd)} MB at end (growth ${mb(rssEnd - rssStart)} MB); ` +
      `concurrent pings ${pingLatencies.length} answered, ${pingFailures.length} failed, p50 ${percentile(sorted, 50).toFixed(2)} ms p99 ${percentile(sorted, 99).toFixed(2)} ms`,
  );

  expect(failure).toBeNull();
  expect(pidAlive(pid)).toBe(true);
  expect(inputs).toBeGreaterThanOrEqual(TARGET_INPUTS);
  expect(pingFailures).toEqual([]);
  expect(pingLatencies.length).toBeGreaterThan(10);
  expect(rssEnd - rssStart).toBeLessThan(50 * 1024 * 1024);
  // The daemon still answers, and the service it supervises was never disturbed.
  const keeper = (await client.listServices()).find((s) => s.name === "keeper")!;
  expect(keeper.state).toBe(ServiceState.RUNNING);
  expect(keeper.pid).toBe(keeperPid);
  // Nothing the fuzzer sent could define a service.
  expect((await client.listServices()).map((s) => s.name)).toEqual(["keeper"]);
  const status = await client.status();
  expect(status.pid).toBe(pid);
  client.close();
  const fresh = daemon.client();
  await waitFor(async () => fresh.ping().then(() => true), 5_000, "a fresh client's ping");
  fresh.close();
}, 110_000);

test("a request's unknown fields are skipped, not kept (one 1 MiB frame of them would be a quarter million objects)", () => {
  const n = 250_000;
  const payload = new Uint8Array(2 + n * 4);
  payload.set([0x3a, 0x00], 0); // list_services
  for (let j = 0; j < n; j++) payload.set([0xfa, 0x01, 0x01, 0x41], 2 + j * 4); // unknown field 31 = "A"
  const req = decodeRequest(payload) as unknown as { $unknown?: unknown[]; kind: { case: string } };
  expect(req.kind.case).toBe("listServices");
  expect(req.$unknown?.length ?? 0).toBe(0);
});
