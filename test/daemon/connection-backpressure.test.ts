import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { LogStream } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { Connection, MAX_QUEUED_BYTES } from "../../src/daemon/connection.ts";
import { FOLLOWER_MAX_QUEUED_BYTES, serviceMethods } from "../../src/daemon/methods/services.ts";
import type { ServiceManager } from "../../src/daemon/services/manager.ts";
import type { LogEntry } from "../../src/daemon/services/service-log.ts";
import { OUTPUT_HIGH_WATER_BYTES } from "../../src/protocol/index.ts";

/** A socket that takes `budget` bytes per write (0: full) and records pause/resume/end. */
function fakeSocket() {
  const calls: string[] = [];
  const socket = {
    budget: 0,
    write(data: Uint8Array) {
      return Math.min(data.length, socket.budget);
    },
    pause: () => void calls.push("pause"),
    resume: () => void calls.push("resume"),
    end: () => void calls.push("end"),
  };
  return { socket, calls, asSocket: socket as unknown as Socket<Connection> };
}

const admin = { role: "admin", uid: 0, pid: 1, gid: 0 } as const;

describe("a connection's output high-water mark", () => {
  test("reading pauses while more than OUTPUT_HIGH_WATER_BYTES wait, and resumes once they are back under it", async () => {
    const { socket, calls, asSocket } = fakeSocket();
    const conn = new Connection(asSocket, admin);
    let resumed = 0;
    conn.onReadResumed = () => resumed++;
    conn.sendFrame(1, new Uint8Array(OUTPUT_HIGH_WATER_BYTES));
    expect(calls).toEqual([]);
    conn.sendFrame(2, new Uint8Array(100));
    expect(calls).toEqual(["pause"]);
    expect(conn.isReadPaused).toBe(true);
    await Promise.resolve(); // the flush: the socket takes nothing
    socket.budget = 50;
    conn.out.drain(); // 50 over: still paused
    expect(calls).toEqual(["pause"]);
    socket.budget = 50;
    conn.out.drain();
    expect(calls).toEqual(["pause", "resume"]);
    expect(conn.isReadPaused).toBe(false);
    expect(resumed).toBe(1);
    expect(conn.isClosed).toBe(false);
  });

  test("sits above what log follows and event watches let wait, below the cap", () => {
    // A stream's guard lets FOLLOWER_MAX_QUEUED_BYTES wait, plus one frame of at most 1 MiB:
    // reading the connection's other requests (cancel_stream among them) never stops for it.
    expect(OUTPUT_HIGH_WATER_BYTES).toBeGreaterThan(FOLLOWER_MAX_QUEUED_BYTES + 1024 * 1024);
    expect(OUTPUT_HIGH_WATER_BYTES).toBeLessThan(MAX_QUEUED_BYTES);
  });
});

/** A service manager with one service whose ring holds `backlog`, counting its followers and event listeners. */
function fakeManager(backlog: LogEntry[]) {
  const counts = { followers: 0, eventListeners: 0 };
  const service = {
    name: "s",
    spec: {},
    log: {
      tail: () => backlog,
      follow: () => {
        counts.followers++;
        return () => void counts.followers--;
      },
    },
  };
  const manager = {
    resolve: () => service,
    onEvent: () => {
      counts.eventListeners++;
      return () => void counts.eventListeners--;
    },
  } as unknown as ServiceManager;
  return { manager, counts };
}

const lines = (n: number): LogEntry[] => Array.from({ length: n }, (_, i) => ({ service: "s", stream: LogStream.STDOUT, timeUnixMs: i, text: "x".repeat(200) }));
/** A handler's argument (any method's: `never` stands for each). */
const call = (id: number, conn: Connection, request: object) => ({ id, request, caller: admin, conn }) as never;

describe("a log follow whose backlog takes the connection over its output cap", () => {
  test("the close cancels every stream, this one included, without throwing; nothing is left following", () => {
    const { calls, asSocket } = fakeSocket();
    const conn = new Connection(asSocket, admin);
    const { manager, counts } = fakeManager(lines(100));
    const methods = serviceMethods(manager);
    methods.watchEvents!.handle(call(1, conn, {}));
    expect(counts.eventListeners).toBe(1);
    // A reader that stopped: the queue is just under the cap, and the backlog (~25 KB) goes over it.
    conn.out.push(new Uint8Array(MAX_QUEUED_BYTES - 1000));
    // Before: cancelling called `end` before it was defined ("Cannot access 'end' before initialization").
    expect(() => methods.serviceLogs!.handle(call(2, conn, { name: "s", lines: 100, follow: true }))).not.toThrow();
    expect(conn.isClosed).toBe(true);
    expect(calls).toContain("end");
    expect(counts.eventListeners).toBe(0);
    expect(counts.followers).toBe(0);
  });

  test("on a connection already closed, a follow registers no listener", () => {
    const { asSocket } = fakeSocket();
    const conn = new Connection(asSocket, admin);
    const { manager, counts } = fakeManager(lines(3));
    const methods = serviceMethods(manager);
    conn.close();
    methods.serviceLogs!.handle(call(2, conn, { name: "s", lines: 3, follow: true }));
    methods.watchEvents!.handle(call(3, conn, {}));
    expect(counts.followers).toBe(0);
    expect(counts.eventListeners).toBe(0);
  });
});
