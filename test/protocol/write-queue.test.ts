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

  describe("pushTransient: the caller reuses the frame's buffer at once", () => {
    test("with nothing waiting it is written now, and changing the buffer afterwards changes nothing sent", () => {
      const socket = fakeSocket([]);
      const q = new WriteQueue(socket);
      const buf = frame(100, 0);
      q.pushTransient(buf);
      expect(socket.writes).toEqual([100]);
      buf.fill(0xee);
      expect(socket.received).toEqual([...frame(100, 0)]);
      expect(q.queuedBytes).toBe(0);
    });

    test("what the kernel does not take is copied and goes out on drain, in order", async () => {
      const socket = fakeSocket([30, 0]);
      const q = new WriteQueue(socket);
      const buf = frame(100, 0);
      q.pushTransient(buf);
      buf.fill(0xee);
      q.pushTransient(buf.fill(0xdd).subarray(0, 10)); // waits behind the rest: copied as it is now
      buf.fill(0xcc);
      expect(q.queuedBytes).toBe(80);
      q.drain(); // budget 0: still blocked
      q.drain();
      expect(socket.received).toEqual([...frame(100, 0), ...new Array(10).fill(0xdd)]);
      expect(q.queuedBytes).toBe(0);
    });

    test("behind frames pushed in the same tick it waits its turn, as a copy", async () => {
      const socket = fakeSocket([]);
      const q = new WriteQueue(socket);
      q.push(frame(10, 0));
      const buf = frame(10, 10);
      q.pushTransient(buf);
      buf.fill(0xee);
      expect(socket.writes).toEqual([]);
      await Promise.resolve();
      expect(socket.received).toEqual([...frame(20, 0)]);
    });

    test("a closed socket takes nothing and nothing is kept", () => {
      const socket = fakeSocket([]);
      const q = new WriteQueue(socket);
      socket.close();
      q.pushTransient(frame(10, 0));
      expect(q.queuedBytes).toBe(0);
    });
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
