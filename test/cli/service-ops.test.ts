// `adi daemon start|stop|restart NAME…`: from a script (stderr is no
// terminal) the requests over the blocking socket, at a terminal through
// DaemonClient with its spinner (src/cli/daemon/service-ops.ts). A fake daemon
// records what each run sends, so the test sees which path ran, and that no
// path sends a stop or a restart twice. `logs` takes the blocking socket at a terminal too.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { LogStream } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { decodeRequest, encodeResponseFrame, errorResponse, FrameDecoder, MAX_REQUEST_FRAME, type ResponseKindInit } from "../../src/protocol/index.ts";
import { adiArgv, hasScript, inPty } from "./helpers.ts";
import { tempHome } from "../helpers/env.ts";

const home = tempHome();
mkdirSync(home.home);
afterAll(() => home.cleanup());
const SOCKET = join(home.home, "fake.sock");
const env = { ...home.env, ADI_DAEMON_SOCKET: SOCKET, NO_COLOR: "1" };

/** An answer, a hang-up, or a refusal of the whole connection (an error frame with id 0, as a daemon with too many clients sends). */
type Reply = ResponseKindInit | "hang up" | { refuse: AdiError };

/** A daemon that answers each request with `reply(kind, name)`; `seen` is the request kinds of each connection, in order. */
async function fakeDaemon(reply: (kind: string, name?: string) => Reply) {
  const seen: string[][] = [];
  const server = Bun.listen<{ decoder: FrameDecoder; kinds: string[] }>({
    unix: SOCKET,
    socket: {
      open(s) {
        s.data = { decoder: new FrameDecoder(MAX_REQUEST_FRAME), kinds: [] };
        seen.push(s.data.kinds);
      },
      data(s: Socket<{ decoder: FrameDecoder; kinds: string[] }>, bytes) {
        for (const frame of s.data.decoder.push(new Uint8Array(bytes))) {
          const request = decodeRequest(frame);
          s.data.kinds.push(request.kind.case!);
          const answer = reply(request.kind.case!, (request.kind.value as { name?: string } | undefined)?.name);
          if (answer === "hang up") s.end();
          else if ("refuse" in answer) s.end(encodeResponseFrame(errorResponse(0, answer.refuse)));
          else s.write(encodeResponseFrame({ id: request.id, kind: answer }));
        }
      },
    },
  });
  return { seen, [Symbol.dispose]: () => server.stop(true) };
}

const answers = (kind: string): Reply => (kind === "ping" ? { case: "pong", value: {} } : { case: "ok", value: {} });

async function piped(args: string[]) {
  const proc = Bun.spawn([...adiArgv(), ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const onLinux = process.platform === "linux" ? test : test.skip;
if (process.platform !== "linux") console.log("skip: the blocking socket is Linux only");
const ptyTest = onLinux === test && hasScript ? test : test.skip;
if (!hasScript) console.log("skip: the terminal cases need util-linux `script`");

describe("start, stop, restart and logs of one name", () => {
  onLinux("from a script: the one request over the blocking socket, no ping first", async () => {
    using daemon = await fakeDaemon(answers);
    expect(await piped(["daemon", "stop", "web"])).toEqual({ code: 0, stdout: "stopped web\n", stderr: "" });
    expect(await piped(["daemon", "restart", "web"])).toEqual({ code: 0, stdout: "restarted web\n", stderr: "" });
    expect(await piped(["daemon", "start", "web"])).toEqual({ code: 0, stdout: "started web\n", stderr: "" });
    expect(daemon.seen).toEqual([["stopService"], ["restartService"], ["startService"]]);
  });

  ptyTest("at a terminal: through DaemonClient (ping, then the request), the same output", async () => {
    using daemon = await fakeDaemon(answers);
    expect(await inPty({ env }, ["daemon", "stop", "web"])).toEqual({ code: 0, output: "stopped web\r\n" });
    expect(await inPty({ env }, ["daemon", "restart", "web"])).toEqual({ code: 0, output: "restarted web\r\n" });
    expect(await inPty({ env }, ["daemon", "start", "web"])).toEqual({ code: 0, output: "started web\r\n" });
    expect(daemon.seen).toEqual([["ping", "stopService"], ["ping", "restartService"], ["ping", "startService"]]);
  });

  ptyTest("at a terminal that draws no spinner (TERM=dumb): the blocking socket", async () => {
    using daemon = await fakeDaemon(answers);
    expect(await inPty({ env }, ["daemon", "stop", "web"], { TERM: "dumb" })).toEqual({ code: 0, output: "stopped web\r\n" });
    expect(daemon.seen).toEqual([["stopService"]]);
  });

  onLinux("an error answer: printed as DaemonClient's path prints it, with its exit code", async () => {
    const missing = new AdiError(ErrorCode.NOT_FOUND, "no service named web");
    using daemon = await fakeDaemon((kind) => (kind === "ping" ? { case: "pong", value: {} } : errorResponse(0, missing).kind!));
    const r = await piped(["daemon", "stop", "web"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: "error: no service named web\n" });
    expect(daemon.seen).toEqual([["stopService"]]);
    if (hasScript) {
      const pty = await inPty({ env }, ["daemon", "stop", "web"]);
      expect(pty).toEqual({ code: r.code, output: r.stderr.replace("\n", "\r\n") });
    }
  });

  onLinux("a daemon that refuses the connection (too many clients): the same error on both paths", async () => {
    const full = { refuse: new AdiError(ErrorCode.RESOURCE_EXHAUSTED, "the daemon serves at most 64 connections") };
    using daemon = await fakeDaemon(() => full);
    const script = await piped(["daemon", "stop", "web"]);
    expect(script).toMatchObject({ stdout: "", stderr: `error: ${full.refuse.message}\n` });
    expect(script.code).not.toBe(0);
    expect(daemon.seen).toEqual([["stopService"]]);
    if (hasScript) expect(await inPty({ env }, ["daemon", "stop", "web"])).toEqual({ code: script.code, output: script.stderr.replace("\n", "\r\n") });
  });

  onLinux("logs, at a terminal as well: the requests over the blocking socket, one per service", async () => {
    const line = (service: string, text: string) => ({ service, stream: LogStream.STDOUT, timeUnixMs: Date.parse("2026-01-01T00:00:00Z"), text });
    using daemon = await fakeDaemon(() => ({ case: "logs", value: { lines: [line("web", "hello")] } }));
    const expected = "2026-01-01T00:00:00.000Z web out hello\n";
    expect(await piped(["daemon", "logs", "web"])).toEqual({ code: 0, stdout: expected, stderr: "" });
    if (hasScript) expect(await inPty({ env }, ["daemon", "logs", "web"])).toEqual({ code: 0, output: expected.replace("\n", "\r\n") });
    expect(daemon.seen).toEqual(hasScript ? [["serviceLogs"], ["serviceLogs"]] : [["serviceLogs"]]);
  });

  onLinux("a daemon that hangs up after the request: the connection was lost, and the request is not sent again", async () => {
    using daemon = await fakeDaemon(() => "hang up");
    for (const op of ["restart", "stop", "start"]) {
      expect(await piped(["daemon", op, "web"])).toEqual({ code: 3, stdout: "", stderr: "error: the connection to the daemon was lost\n" });
    }
    expect(daemon.seen).toEqual([["restartService"], ["stopService"], ["startService"]]);
  });
});

describe("start, stop, restart of several names", () => {
  /** The run from a script; at a terminal the same exit code and the same lines, stdout and stderr as one stream (`terminal`, else stdout then stderr). */
  const both = async (args: string[], terminal?: string) => {
    const script = await piped(args);
    const output = (terminal ?? script.stdout + script.stderr).replaceAll("\n", "\r\n");
    if (hasScript) expect(await inPty({ env }, args)).toEqual({ code: script.code, output });
    return script;
  };

  onLinux("from a script: one connection, every request in it, no ping; the same output as at a terminal", async () => {
    using daemon = await fakeDaemon(answers);
    expect(await both(["daemon", "stop", "web", "api"])).toEqual({ code: 0, stdout: "stopped web\nstopped api\n", stderr: "" });
    expect(await both(["daemon", "restart", "web", "api", "db"])).toEqual({ code: 0, stdout: "restarted web\nrestarted api\nrestarted db\n", stderr: "" });
    expect(await both(["daemon", "start", "web", "api"])).toEqual({ code: 0, stdout: "started web\nstarted api\n", stderr: "" });
    const pinged = (kinds: string[]) => (hasScript ? [kinds, ["ping", ...kinds]] : [kinds]);
    expect(daemon.seen).toEqual([
      ...pinged(["stopService", "stopService"]),
      ...pinged(["restartService", "restartService", "restartService"]),
      ...pinged(["startService", "startService"]),
    ]);
  });

  onLinux("one of them fails: each outcome in the order given, the failures counted, exit 1, on both paths", async () => {
    using daemon = await fakeDaemon((kind, name) =>
      kind === "ping" ? { case: "pong", value: {} } : name === "api" ? errorResponse(0, new AdiError(ErrorCode.NOT_FOUND, "no service named api")).kind! : { case: "ok", value: {} },
    );
    const r = await both(["daemon", "stop", "web", "api", "db"], "stopped web\nerror: no service named api\nstopped db\n1 of 3 services: not stopped\n");
    expect(r).toEqual({ code: 1, stdout: "stopped web\nstopped db\n", stderr: "error: no service named api\n1 of 3 services: not stopped\n" });
    expect(daemon.seen[0]).toEqual(["stopService", "stopService", "stopService"]);
  });

  onLinux("a daemon that hangs up after the requests: each says the connection was lost, none is sent again", async () => {
    using daemon = await fakeDaemon((kind) => (kind === "ping" ? { case: "pong", value: {} } : "hang up"));
    const lost = "error: the connection to the daemon was lost\n";
    expect(await piped(["daemon", "restart", "web", "api"])).toEqual({ code: 1, stdout: "", stderr: `${lost}${lost}2 of 2 services: not restarted\n` });
    expect(daemon.seen).toEqual([["restartService", "restartService"]]);
  });

  onLinux("a daemon that hangs up while a long list is still being written: the answers it gave are reported, the rest lost", async () => {
    let answered = 0;
    using daemon = await fakeDaemon(() => (++answered <= 10 ? { case: "ok", value: {} } : "hang up"));
    // ≈ 1 MB of requests: more than one write(2) takes, so the hang-up comes while writing.
    const names = Array.from({ length: 50_000 }, (_, i) => `s${i}`);
    const r = await piped(["daemon", "stop", ...names]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(names.slice(0, 10).map((n) => `stopped ${n}\n`).join(""));
    const errors = r.stderr.trimEnd().split("\n");
    expect(errors.at(-1)).toBe("49990 of 50000 services: not stopped");
    expect(new Set(errors.slice(0, -1))).toEqual(new Set(["error: the connection to the daemon was lost"]));
    expect(errors.length).toBe(49_991);
    expect(daemon.seen.length).toBe(1);
  }, 60_000);
});
