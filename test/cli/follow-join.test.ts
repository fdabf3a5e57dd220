import { expect, test } from "bun:test";
import type { DaemonClient } from "../../src/client/daemon-client.ts";
import { PushIterator } from "../../src/client/stream.ts";
import { LogPrinter } from "../../src/cli/daemon/log-format.ts";
import { Follow } from "../../src/cli/daemon/logs-follow.ts";
import { LogStream, type LogLine } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";

// `logs -f` opens the follow stream, then asks for the backlog on the same connection: the stream's
// first lines, those that came before the backlog's answer, are in the backlog too. They used to be
// found by matching time, stream and text, which cannot tell identical lines of one millisecond
// apart: one was lost (or printed twice) at the join. Now exactly the lines the stream had received
// when the answer arrived are dropped: the daemon answers on one connection in order.

const same = (): LogLine => ({ service: "dup", stream: LogStream.STDOUT, timeUnixMs: 1_000, text: "x 7" }) as LogLine;

/** A client whose answers come when the test says, in the order it says. */
function scriptedClient() {
  const stream = new PushIterator<LogLine>(() => {});
  let answer!: (lines: LogLine[]) => void;
  const client = {
    logs(_name: string, opts: { follow?: boolean; onAnswer?: () => void }) {
      if (opts.follow) return stream;
      return new Promise<LogLine[]>((resolve) => {
        answer = (lines) => {
          opts.onAnswer?.(); // as the answer's frame is handled, before any later frame
          resolve(lines);
        };
      });
    },
  } as unknown as DaemonClient;
  return { client, stream, answer: (lines: LogLine[]) => answer(lines) };
}

async function joined(before: number, backlog: number, after: number): Promise<number> {
  const { client, stream, answer } = scriptedClient();
  const printed: string[] = [];
  const follow = new Follow(client, new LogPrinter(true, ["dup"], (l) => printed.push(l)), false);
  const opening = follow.open(["dup"], { request: backlog, since: null, last: null });
  for (let i = 0; i < before; i++) stream.push(same());
  await Bun.sleep(0); // the follow loop takes what has come
  answer(Array.from({ length: backlog }, same));
  for (let i = 0; i < after; i++) stream.push(same());
  const [lines] = await opening;
  for (const line of lines!) printed.push(JSON.stringify(line));
  follow.goLive(["dup"]);
  await Bun.sleep(0);
  for (let i = 0; i < 3; i++) stream.push(same());
  await Bun.sleep(0);
  stream.end();
  await follow.done;
  return printed.length;
}

test("identical lines of one millisecond at the join of backlog and stream: none lost, none twice", async () => {
  // The backlog holds `before` of the stream's lines (and older ones); then `after` and 3 more arrive live.
  for (const [before, backlog, after] of [
    [0, 30, 0],
    [0, 30, 2],
    [3, 30, 0],
    [3, 30, 2],
    [30, 30, 5],
  ]) {
    expect({ before, after, printed: await joined(before!, backlog!, after!) }).toEqual({ before, after, printed: backlog! + after! + 3 });
  }
});
