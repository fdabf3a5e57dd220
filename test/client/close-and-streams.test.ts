import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import { AdiError, DaemonClient, ErrorCode, type Request } from "../../src/client/index.ts";
import { FrameDecoder, MAX_REQUEST_FRAME, decodeRequest, encodeResponseFrame } from "../../src/protocol/index.ts";
import { BUN, ROOT, tempHome, waitFor } from "../helpers/env.ts";

/**
 * A fake daemon on a fresh socket path: records every request it receives
 * and the connections it saw open and close; answers ping with a pong and
 * cancel_stream with ok, and never answers a stream (it stays open).
 */
async function withRecordingDaemon(body: (path: string, seen: { requests: Request[]; opened: number; closed: number }) => Promise<void>) {
  const t = tempHome();
  const path = `${t.home}.sock`;
  const seen = { requests: [] as Request[], opened: 0, closed: 0 };
  const server = Bun.listen<{ decoder: FrameDecoder }>({
    unix: path,
    socket: {
      open(socket) {
        seen.opened++;
        socket.data = { decoder: new FrameDecoder(MAX_REQUEST_FRAME) };
      },
      data(socket: Socket<{ decoder: FrameDecoder }>, chunk) {
        for (const frame of socket.data.decoder.push(chunk)) {
          const request = decodeRequest(frame);
          seen.requests.push(request);
          if (request.kind.case === "ping") socket.write(encodeResponseFrame({ id: request.id, kind: { case: "pong", value: { uptimeSecs: 1, version: "fake" } } }));
          if (request.kind.case === "cancelStream") socket.write(encodeResponseFrame({ id: request.id, kind: { case: "ok", value: {} } }));
        }
      },
      close() {
        seen.closed++;
      },
    },
  });
  try {
    await body(path, seen);
  } finally {
    server.stop(true);
    t.cleanup();
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    if (e instanceof AdiError) return ErrorCode[e.code]!;
    throw e;
  }
}

/** Every stream request the daemon received, each with whether a cancel_stream for its id came after it. */
function streamsAndCancels(requests: Request[]): { kind: string; cancelled: boolean }[] {
  return requests.flatMap((r, i) =>
    r.kind.case === "watchEvents" || r.kind.case === "serviceLogs"
      ? [{ kind: r.kind.case, cancelled: requests.slice(i + 1).some((later) => later.kind.case === "cancelStream" && later.kind.value.streamId === r.id) }]
      : [],
  );
}

describe("close() while the first connection is still opening", () => {
  test("the pending call and stream reject with CANCELLED; the connection is closed as it opens, carrying nothing; a later call connects again", async () => {
    await withRecordingDaemon(async (path, seen) => {
      const client = new DaemonClient({ socketPath: path, timeoutMs: 3_000 });
      const pending = client.ping();
      const events = client.watchEvents();
      client.close();
      expect(await codeOf(pending)).toBe("CANCELLED");
      expect(await codeOf(events.next())).toBe("CANCELLED");
      // The socket that was being opened is closed once it is, by the client (this process lives on).
      await waitFor(() => seen.opened === 1 && seen.closed === 1, 3_000, "the opening connection to be closed");
      expect(seen.requests).toEqual([]);
      expect(await codeOf(client.ping())).toBe("resolved");
      expect(seen.opened).toBe(2);
      client.close();
    });
  });

  test("a script that calls ping() then close() exits at once", async () => {
    await withRecordingDaemon(async (path, seen) => {
      const t = tempHome();
      const script = `${t.home}-script.ts`;
      writeFileSync(
        script,
        `import { DaemonClient } from ${JSON.stringify(join(ROOT, "src/client/index.ts"))};
const client = new DaemonClient({ socketPath: process.argv[2] });
const outcome = (p) => p.then(() => "resolved", (e) => String(e.code));
const pending = client.ping();
client.close();
console.log(JSON.stringify([await outcome(pending)]));
`,
      );
      const child = Bun.spawn([BUN, script, path], { stdout: "pipe", stderr: "pipe", env: t.env });
      try {
        const exited = await Promise.race([child.exited, Bun.sleep(5_000).then(() => "still running")]);
        expect(exited).toBe(0);
        const out = await new Response(child.stdout).text();
        expect(JSON.parse(out)).toEqual([String(ErrorCode.CANCELLED)]);
        expect(seen.requests).toEqual([]);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await child.exited;
        t.cleanup();
      }
    });
  });
});

describe("a stream left before its request went out", () => {
  test("on a connection still opening: the request is never sent", async () => {
    await withRecordingDaemon(async (path, seen) => {
      const client = new DaemonClient({ socketPath: path, timeoutMs: 3_000 });
      try {
        const events = client.watchEvents();
        const logs = client.logs("web", { lines: 5, follow: true });
        expect(await events.return!()).toEqual({ value: undefined, done: true });
        expect(await logs.return!()).toEqual({ value: undefined, done: true });
        // The ping goes out after anything the iterators would have sent on the same connection.
        await client.ping();
        expect(seen.requests.map((r) => r.kind.case)).toEqual(["ping"]);
        expect(await events.next()).toEqual({ value: undefined, done: true });
      } finally {
        client.close();
      }
    });
  });

  test("on an open connection: the request goes out at once, so leaving cancels it", async () => {
    await withRecordingDaemon(async (path, seen) => {
      const client = new DaemonClient({ socketPath: path, timeoutMs: 3_000 });
      try {
        await client.ping();
        const events = client.watchEvents();
        await events.return!();
        const logs = client.logs("web", { follow: true });
        await logs.return!();
        await client.ping();
        expect(streamsAndCancels(seen.requests)).toEqual([
          { kind: "watchEvents", cancelled: true },
          { kind: "serviceLogs", cancelled: true },
        ]);
      } finally {
        client.close();
      }
    });
  });

  test("a stream that is followed and then left is still cancelled", async () => {
    await withRecordingDaemon(async (path, seen) => {
      const client = new DaemonClient({ socketPath: path, timeoutMs: 3_000 });
      try {
        const events = client.watchEvents();
        await client.ping(); // the connection is open and the stream request went out before the ping
        await events.return!();
        await client.ping();
        expect(streamsAndCancels(seen.requests)).toEqual([{ kind: "watchEvents", cancelled: true }]);
      } finally {
        client.close();
      }
    });
  });
});
