import { describe, expect, test } from "bun:test";
import { WriteQueue, type HighWater } from "../../src/protocol/write-queue.ts";
import { rng } from "../helpers/rng.ts";

/** A socket that takes at most `budget()` bytes per write call (0 = full), recording them. */
function fakeSocket(budget: () => number) {
  const writes: Uint8Array[] = [];
  let closed = false;
  return {
    received: () => Buffer.concat(writes),
    close: () => (closed = true),
    write(data: Uint8Array): number {
      if (closed) return -1;
      const take = Math.min(data.length, budget());
      writes.push(data.slice(0, take));
      return take;
    },
  };
}

function frame(n: number, start: number): Uint8Array {
  const f = new Uint8Array(n);
  for (let i = 0; i < n; i++) f[i] = (start + i) & 0xff;
  return f;
}
/** The number of pieces the queue holds (each costs ~200 bytes of memory whatever its size). */
const pieces = (q: WriteQueue) => (q as unknown as { chunks: Uint8Array[] }).chunks.length;

function recordingHighWater(bytes: number) {
  const events: string[] = [];
  const hw: HighWater = { bytes, above: () => events.push("above"), below: () => events.push("below") };
  return { hw, events };
}

describe("WriteQueue memory", () => {
  test("small frames waiting behind a full socket are joined: 100,000 pongs are a few thousand pieces, sent whole and in order", async () => {
    let open = false;
    const socket = fakeSocket(() => (open ? Infinity : 0));
    const q = new WriteQueue(socket);
    const N = 100_000;
    for (let i = 0; i < N; i++) q.push(frame(18, i * 18));
    await Promise.resolve();
    // One piece per frame before: ~20 MB of memory for 1.8 MB of frames.
    expect(pieces(q)).toBeLessThanOrEqual(N / 64 + 64);
    expect(q.queuedBytes).toBe(N * 18);
    open = true;
    q.drain();
    expect(q.queuedBytes).toBe(0);
    expect(socket.received().equals(frame(N * 18, 0))).toBe(true);
  });

  test("frames of mixed sizes through random partial writes and joins arrive whole and in order", async () => {
    for (let round = 0; round < 20; round++) {
      const random = rng(round + 1);
      const rand = (n: number) => Math.floor(random() * n);
      const socket = fakeSocket(() => (rand(4) === 0 ? 0 : rand(3000)));
      const q = new WriteQueue(socket);
      let total = 0;
      for (let i = 0; i < 2000; i++) {
        const size = rand(10) === 0 ? 1024 + rand(5000) : 1 + rand(200);
        const f = frame(size, total);
        total += size;
        if (rand(3) === 0) q.pushTransient(f);
        else q.push(f);
        if (rand(50) === 0) await Promise.resolve();
        if (rand(40) === 0) q.drain();
      }
      await Promise.resolve();
      for (let i = 0; q.queuedBytes > 0 && i < 100_000; i++) q.drain();
      expect(q.queuedBytes).toBe(0);
      expect(socket.received().equals(frame(total, 0))).toBe(true);
    }
  });
});

describe("WriteQueue high-water mark", () => {
  test("above once when more than the mark waits, below once back at or under it", async () => {
    let budget = 0;
    const socket = fakeSocket(() => budget);
    const { hw, events } = recordingHighWater(1000);
    const q = new WriteQueue(socket, hw);
    for (let i = 0; i < 5; i++) q.push(frame(200, i * 200));
    expect(events).toEqual([]); // 1000: not above
    q.push(frame(200, 1000));
    q.push(frame(200, 1200));
    expect(events).toEqual(["above"]); // once
    await Promise.resolve(); // the flush takes nothing
    budget = 300;
    q.drain(); // 1100 wait: still above
    expect(q.queuedBytes).toBe(1100);
    expect(events).toEqual(["above"]);
    budget = 100;
    q.drain(); // 1000 wait: at the mark
    expect(events).toEqual(["above", "below"]);
    budget = Infinity;
    q.drain();
    expect(events).toEqual(["above", "below"]);
    expect(socket.received().equals(frame(1400, 0))).toBe(true);
  });

  test("what pushTransient leaves unwritten counts; a flush that takes everything reports below", async () => {
    let budget = 100;
    const socket = fakeSocket(() => budget);
    const { hw, events } = recordingHighWater(1000);
    const q = new WriteQueue(socket, hw);
    q.pushTransient(frame(2000, 0)); // 1900 left
    expect(events).toEqual(["above"]);
    budget = Infinity;
    q.drain();
    expect(events).toEqual(["above", "below"]);
    // A big frame queued in one tick is above until the end-of-tick flush writes it.
    q.push(frame(5000, 2000));
    expect(events).toEqual(["above", "below", "above"]);
    await Promise.resolve();
    expect(events).toEqual(["above", "below", "above", "below"]);
    expect(socket.received().equals(frame(7000, 0))).toBe(true);
  });

  test("a socket that closed drops the queue and reports below", async () => {
    const socket = fakeSocket(() => 0);
    const { hw, events } = recordingHighWater(10);
    const q = new WriteQueue(socket, hw);
    q.push(frame(100, 0));
    await Promise.resolve();
    expect(events).toEqual(["above"]);
    socket.close();
    q.drain();
    expect(q.queuedBytes).toBe(0);
    expect(events).toEqual(["above", "below"]);
  });
});
