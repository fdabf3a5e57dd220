import { afterAll, beforeAll, expect, test } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { encodeFrame, encodeRequestFrame } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive, sleep, waitFor } from "../helpers/env.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

let daemon: TestDaemon;
let pinging = true;
let pingsSent = 0;
let pingsAnswered = 0;
let pingFailures: string[] = [];
let pinger: Promise<void>;

beforeAll(async () => {
  daemon = new TestDaemon();
  await daemon.start();
  // A well-behaved client pinging the whole time the others misbehave.
  const client = daemon.client({ timeoutMs: 5_000 });
  pinger = (async () => {
    while (pinging) {
      pingsSent++;
      try {
        await client.ping();
        pingsAnswered++;
      } catch (e) {
        pingFailures.push(String(e));
      }
      await sleep(5);
    }
    client.close();
  })();
});

afterAll(async () => {
  pinging = false;
  await pinger;
  await daemon.cleanup();
});

function errorOf(raw: RawSocket) {
  const r = raw.responses.find((x) => x.kind.case === "error");
  return r?.kind.case === "error" ? r.kind.value : undefined;
}

test("random bytes get a protocol error and a close", async () => {
  for (let i = 0; i < 20; i++) {
    const raw = await RawSocket.connect(daemon.socket);
    const junk = crypto.getRandomValues(new Uint8Array(64 + i * 13));
    junk[3] = 0xff; // make the length header absurd half of the time, garbage payload otherwise
    if (i % 2) junk.set([8, 0, 0, 0], 0);
    raw.write(junk);
    // Closed at once on a bad header or payload; at worst by the 10 s read
    // deadline when the junk happens to leave a plausible half frame.
    expect(await raw.waitClosed(12_000)).toBe(true);
  }
}, 60_000);

test("a 4 GiB length header is refused without allocating it", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  expect(await raw.waitClosed(3_000)).toBe(true);
  expect(errorOf(raw)?.code).toBe(ErrorCode.PROTOCOL);
  expect(errorOf(raw)?.message).toMatch(/exceeds/);
});

test("a truncated frame followed by a close leaves the daemon serving", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  const frame = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });
  raw.write(new Uint8Array([...frame.subarray(0, 3)]));
  raw.end();
  await sleep(50);
  expect(await daemon.client().ping().then(() => true)).toBe(true);
});

test("an unknown request variant answers UNIMPLEMENTED and the connection stays usable", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  // Request { id = 7 (field 1), field 99 = empty message }: a variant from the future.
  raw.write(encodeFrame(new Uint8Array([0x08, 0x07, 0x9a, 0x06, 0x00])));
  raw.write(encodeRequestFrame({ id: 8, kind: { case: "ping", value: {} } }));
  for (let i = 0; i < 100 && raw.responses.length < 2; i++) await sleep(10);
  expect(raw.responses[0]?.id).toBe(7);
  expect(errorOf(raw)?.code).toBe(ErrorCode.UNIMPLEMENTED);
  expect(raw.responses[1]?.id).toBe(8);
  expect(raw.responses[1]?.kind.case).toBe("pong");
  expect(raw.closed).toBe(false);
  raw.end();
});

test("a valid frame with an undecodable payload is a protocol error", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  raw.write(encodeFrame(new Uint8Array([0x12, 0x64, 0x00])));
  expect(await raw.waitClosed(3_000)).toBe(true);
  expect(errorOf(raw)?.code).toBe(ErrorCode.PROTOCOL);
});

test("an over-limit request (1 MiB + 1) is refused", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 1024 * 1024 + 1, true);
  raw.write(header);
  expect(await raw.waitClosed(3_000)).toBe(true);
  expect(errorOf(raw)?.code).toBe(ErrorCode.PROTOCOL);
});

test("a client that connects and sends nothing does not block others", async () => {
  const idle = await Promise.all(Array.from({ length: 20 }, () => RawSocket.connect(daemon.socket)));
  const client = daemon.client();
  const pongs = await Promise.all(Array.from({ length: 50 }, () => client.ping()));
  expect(pongs.length).toBe(50);
  client.close();
  for (const raw of idle) raw.end();
});

test("a request with the reserved id 0 is a protocol error: an id-0 error, then the close", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  raw.write(encodeRequestFrame({ id: 0, kind: { case: "ping", value: {} } }));
  expect(await raw.waitClosed(2_000)).toBe(true);
  expect(raw.responses.map((r) => r.id)).toEqual([0]);
  expect(errorOf(raw)?.code).toBe(ErrorCode.PROTOCOL);
  expect(errorOf(raw)?.message).toContain("request id 0 is reserved");
});

test("a stream id already streaming is refused (the first stream stays cancellable); a connection holds at most 256 streams", async () => {
  const raw = await RawSocket.connect(daemon.socket);
  const watch = (id: number) => raw.write(encodeRequestFrame({ id, kind: { case: "watchEvents", value: {} } }));
  const answersTo = (id: number) => raw.responses.filter((r) => r.id === id);
  const answered = (id: number) => waitFor(() => answersTo(id).length > 0, 10_000, `an answer to request ${id}`);
  try {
    watch(7);
    watch(7);
    await answered(7);
    const refusal = answersTo(7)[0]?.kind;
    expect(refusal?.case).toBe("error");
    if (refusal?.case === "error") {
      expect(refusal.value.code).toBe(ErrorCode.ALREADY_EXISTS);
      expect(refusal.value.message).toContain("request id 7 is already an open stream");
    }
    // The first stream is still there, and one cancel ends it.
    raw.write(encodeRequestFrame({ id: 8, kind: { case: "cancelStream", value: { streamId: 7 } } }));
    await answered(8);
    expect(answersTo(8)[0]?.kind.case).toBe("ok");
    expect(answersTo(7).map((r) => r.kind.case)).toEqual(["error", "streamEnd"]);

    // 256 open streams, then one more.
    for (let id = 100; id < 356; id++) watch(id);
    watch(356);
    await answered(356);
    const over = answersTo(356)[0]?.kind;
    expect(over?.case).toBe("error");
    if (over?.case === "error") expect(over.value.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
    expect(raw.responses.filter((r) => r.id >= 100 && r.id < 356 && r.kind.case === "error")).toEqual([]);
    expect(raw.closed).toBe(false);
  } finally {
    raw.end(); // 256 open watches must not outlive this test on the daemon the file shares
  }
});

test("the pinging client saw every ping answered and the daemon is still up", async () => {
  pinging = false;
  await pinger;
  expect(pingFailures).toEqual([]);
  expect(pingsAnswered).toBe(pingsSent);
  expect(pingsSent).toBeGreaterThan(5);
  expect(pidAlive(daemon.pid()!)).toBe(true);
});
