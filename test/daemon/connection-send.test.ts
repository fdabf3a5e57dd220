import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { ServiceState, type ResponseInit } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { Connection } from "../../src/daemon/connection.ts";
import { encodeResponseFrame } from "../../src/protocol/messages.ts";

// Connection.send encodes into a buffer the next response reuses (messages.ts): whatever the
// socket has not taken yet must be a copy. A socket that takes a few bytes at a time, then
// everything, must see each frame whole and in order.

function trickleSocket() {
  const written: number[] = [];
  let budget = 100;
  const socket = {
    write(data: Uint8Array) {
      const n = Math.min(budget, data.length);
      for (let i = 0; i < n; i++) written.push(data[i]!);
      budget -= n;
      return n;
    },
    end() {},
  };
  return { socket: socket as unknown as Socket<Connection>, written, open: () => (budget = Infinity) };
}

const list = (id: number, command: string): ResponseInit & { id: number } => ({
  id,
  kind: { case: "services", value: { list: Array.from({ length: 100 }, (_, i) => ({ name: `s${i}`, state: ServiceState.RUNNING, pid: i + 1, command })) } },
});

test("responses sent while the socket is full arrive whole and in order", async () => {
  const { socket, written, open } = trickleSocket();
  const conn = new Connection(socket, { role: "admin" } as never);
  const responses = [list(1, "first"), list(2, "second"), { id: 3, kind: { case: "pong", value: { version: "x" } } } as const, list(4, "fourth")];
  // The lists take the path without a copy (≥ 1 KiB), the pong the copied one.
  expect(encodeResponseFrame(responses[0]!).length).toBeGreaterThan(1024);
  for (const r of responses) conn.send(r);
  open();
  conn.out.drain();
  await Promise.resolve();
  const expected = Buffer.concat(responses.map((r) => encodeResponseFrame(r)));
  expect(written.length).toBe(expected.length);
  expect(Buffer.from(written).equals(expected)).toBe(true);
});

/** A socket that takes everything and records each write(2) it was given. */
function recordingSocket() {
  const writes: Uint8Array[] = [];
  const socket = {
    write(data: Uint8Array) {
      writes.push(data.slice());
      return data.length;
    },
    end() {},
  };
  return { socket: socket as unknown as Socket<Connection>, writes };
}

const pong = (id: number) => ({ id, kind: { case: "pong", value: { version: "x", uptimeSecs: id } } }) as const;

test("the reply to a lone request is written at once; a burst's replies are joined into one write", async () => {
  const { socket, writes } = recordingSocket();
  const conn = new Connection(socket, { role: "admin" } as never);
  conn.loneRequest = true;
  conn.send(pong(1));
  expect(writes.length).toBe(1); // before any microtask ran
  expect(Buffer.from(writes[0]!).equals(encodeResponseFrame(pong(1)))).toBe(true);
  conn.loneRequest = false;
  conn.send(pong(2));
  conn.send(pong(3));
  expect(writes.length).toBe(1); // queued for the end of the tick
  await Promise.resolve();
  expect(writes.length).toBe(2);
  expect(Buffer.from(writes[1]!).equals(Buffer.concat([encodeResponseFrame(pong(2)), encodeResponseFrame(pong(3))]))).toBe(true);
});

test("a lone request's reply waits behind what the socket has not taken, whole and in order", async () => {
  const { socket, written, open } = trickleSocket();
  const conn = new Connection(socket, { role: "admin" } as never);
  conn.send(list(1, "first")); // takes 100 bytes, the rest waits
  conn.loneRequest = true;
  conn.send(pong(2)); // the shared buffer is reused by the next send: this must be a copy
  conn.send(pong(3));
  open();
  conn.out.drain();
  await Promise.resolve();
  const expected = Buffer.concat([encodeResponseFrame(list(1, "first")), encodeResponseFrame(pong(2)), encodeResponseFrame(pong(3))]);
  expect(Buffer.from(written).equals(expected)).toBe(true);
});
