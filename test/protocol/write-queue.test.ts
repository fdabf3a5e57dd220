import { describe, expect, test } from "bun:test";
import { WriteQueue } from "../../src/protocol/write-queue.ts";

/** A socket that takes at most `budget` bytes per write call (0 = full), recording them. */
function fakeSocket(budgets: number[]) {
  const received: number[] = [];
  const writes: number[] = [];
  let closed = false;
  return {
    received,
    writes,
    close: () => (closed = true),
    write(data: Uint8Array): number {
      if (closed) return -1;
      const take = Math.min(data.length, budgets.length > 0 ? budgets.shift()! : data.length);
      writes.push(data.length);
      for (let i = 0; i < take; i++) received.push(data[i]!);
      return take;
    },
  };
}

const frame = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

describe("WriteQueue", () => {
  test("small frames queued in one tick go out in one write", async () => {
    const socket = fakeSocket([]);
    const q = new WriteQueue(socket);
    for (let i = 0; i < 100; i++) q.push(frame(10, i * 10));
    await Promise.resolve();
    expect(socket.writes).toEqual([1000]);
    expect(socket.received).toEqual([...frame(1000, 0)]);
    expect(q.queuedBytes).toBe(0);
  });

  test("partial writes keep every byte in order, big frames are not joined", async () => {
    const socket = fakeSocket([50, 100, 0]);
    const q = new WriteQueue(socket);
    const parts = [frame(50, 0), frame(300_000, 50), frame(20, 300_050), frame(30, 300_070)];
    for (const p of parts) q.push(p);
    await Promise.resolve();
    // 50 bytes alone (the next frame is too big to join), then 100 of the big one, then full.
    expect(socket.writes).toEqual([50, 300_000]);
    expect(q.queuedBytes).toBe(300_100 - 150);
    q.drain(); // blocked again at once (budget 0)
    expect(q.queuedBytes).toBe(300_100 - 150);
    q.drain();
    expect(socket.received).toEqual([...frame(300_100, 0)]);
    expect(q.queuedBytes).toBe(0);
    expect(socket.writes.slice(2)).toEqual([299_900, 299_900, 50]); // the two small frames after the big one, joined
  });

  test("a closed socket drops what is queued", async () => {
    const socket = fakeSocket([]);
    const q = new WriteQueue(socket);
    socket.close();
    q.push(frame(10, 0));
    await Promise.resolve();
    expect(q.queuedBytes).toBe(0);
  });
});
