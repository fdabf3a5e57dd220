import { afterEach, expect, test } from "bun:test";
import { FOLLOW_MAX_QUEUED_LINES } from "../../src/client/daemon-client.ts";
import { PushIterator } from "../../src/client/stream.ts";
import { cleanupDaemons, newDaemon, waitForState } from "../services/helpers.ts";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";

afterEach(cleanupDaemons);

// A plugin's `for await (const line of client.logs(name, { follow: true }))` that reads slower than the
// service writes kept every line: the client reads its socket in time, so the daemon never saw a slow
// reader, and the process grew to 3.2 GB in 12 s. Lines past a cap are now dropped and told, as the
// daemon does for a reader that falls behind on its side.

test("a queue past its cap drops, and tells how many once the reader has taken half of what waits", async () => {
  const it = new PushIterator<string>(() => {}, 10, (n) => `skipped ${n}`);
  for (let i = 0; i < 25; i++) it.push(`l${i}`);
  const got: string[] = [];
  for (let i = 0; i < 5; i++) got.push((await it.next()).value);
  it.push("l25"); // still dropped: five wait, the marker comes once the reader is at half the cap
  got.push((await it.next()).value); // now: the marker goes behind the five left
  it.push("l26"); // queued again, after the marker
  it.end();
  for await (const v of it) got.push(v);
  expect(got).toEqual(["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "skipped 16", "l26"]);
  expect(it.received).toBe(27);
});

test("a follow read slower than the service writes keeps at most its cap, and gets the daemon's kind of marker", async () => {
  const d = newDaemon();
  await d.start();
  const client = d.client();
  try {
    await client.startService("flood", { command: "sh", args: ["-c", "yes 'flood line with some text in it'"] });
    await waitForState(d, "flood", ServiceState.RUNNING);
    const lines = client.logs("flood", { follow: true, maxQueued: 100 });
    let skipped = 0;
    let read = 0;
    const rssBefore = process.memoryUsage.rss();
    const until = performance.now() + 1_500;
    for await (const line of lines) {
      read++;
      const marker = /^… (\d+) lines skipped: reader too slow$/.exec(line.text);
      if (marker) skipped += Number(marker[1]);
      await Bun.sleep(1); // a reader slower than `yes`
      if (performance.now() > until) break;
    }
    // Far more came than was read; what was not read was dropped and told, not kept.
    expect(lines.received).toBeGreaterThan(read * 10);
    expect(skipped).toBeGreaterThan(lines.received / 2);
    expect(process.memoryUsage.rss() - rssBefore).toBeLessThan(200 * 1024 * 1024);
    expect(FOLLOW_MAX_QUEUED_LINES).toBe(10_000);
  } finally {
    client.close();
  }
}, 30_000);
