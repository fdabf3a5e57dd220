import { afterEach, expect, mock, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { resolvePaths } from "../../src/config.ts";
import * as spawnModule from "../../src/daemon/services/spawn.ts";
import { sleep, tempHome } from "../helpers/env.ts";

// What a service writes as it exits (on SIGTERM, say) is still in its pipes when the exit is
// seen, and the daemon could answer the stop, and log "exited", before reading it:
// `adi daemon stop web && adi daemon logs web` missed the last lines, and "exited" sat in the
// middle of them. Now the exit waits (a bounded time) for the pipes to end. The race is made
// certain here: the next spawn's stdout hands over its last words only 50 ms after the exit. A
// start that comes during that wait must not be lost.
// mock.module stays for the rest of the `bun test` process; the wrapper changes nothing unless
// a test arms it.

/** Armed by a test: the next spawn's stdout gives `words` 50 ms after the exit, then ends (or never ends: `holds`). */
let late: { words: string; holds: boolean } | null = null;
const realSpawn = spawnModule.spawnDetached;
mock.module("../../src/daemon/services/spawn.ts", () => ({
  ...spawnModule,
  spawnDetached: (...args: Parameters<typeof realSpawn>) => {
    const spawned = realSpawn(...args);
    const { proc } = spawned;
    const armed = late;
    if (armed === null) return spawned;
    late = null;
    const stdout = new ReadableStream<Uint8Array>({
      async start(controller) {
        for await (const chunk of proc.stdout) controller.enqueue(chunk);
        await proc.exited;
        await sleep(50);
        controller.enqueue(new TextEncoder().encode(armed.words));
        if (!armed.holds) controller.close();
      },
    });
    const wrapped = {
      pid: proc.pid,
      exited: proc.exited,
      get exitCode() {
        return proc.exitCode;
      },
      get signalCode() {
        return proc.signalCode;
      },
      stdout,
      stderr: proc.stderr,
    } as unknown as Subprocess<"ignore", "pipe", "pipe">;
    return { proc: wrapped, startTime: spawned.startTime };
  },
}));
const { preparePaths } = await import("../../src/daemon/instance.ts");
const { createLogger } = await import("../../src/daemon/logger.ts");
const { ServiceManager } = await import("../../src/daemon/services/manager.ts");
const { createServiceConfig, ServiceState } = await import("../../src/gen/adi/daemon/v1/daemon_wire.ts");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  late = null;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function manager() {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  const m = new ServiceManager({ paths, logger: createLogger(null, "info"), warnings: new Set(), env: t.env, runAs: () => null });
  await m.init();
  cleanups.push(() => m.stopAll(false));
  return m;
}

const logTexts = (m: Awaited<ReturnType<typeof manager>>, name: string) =>
  m
    .resolve(name)
    .log.tail(10)
    .map((l) => l.text);

test("a stop answers once the service's last words are in its log, and logs the exit after them", async () => {
  const m = await manager();
  late = { words: "last words\n", holds: false };
  await m.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"] }));
  await m.resolve("s1").stop(false);
  expect(logTexts(m, "s1").slice(-2)).toEqual(["last words", "killed by SIGTERM"]);
});

test("a pipe held open for good (by a process that left the session) delays a stop by a bounded time only", async () => {
  const m = await manager();
  late = { words: "still here\n", holds: true };
  await m.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"] }));
  const t0 = performance.now();
  await m.resolve("s1").stop(false);
  expect(performance.now() - t0).toBeLessThan(5_000);
  // The bound passed after the words came: they are in, then the exit.
  expect(logTexts(m, "s1").slice(-2)).toEqual(["still here", "killed by SIGTERM"]);
});

test("a start that comes while an exit waits for the pipes starts the service once the exit is done", async () => {
  const m = await manager();
  // A job that finishes cleanly the first time (a clean exit is not restarted), its pipe held past
  // the exit; started again, it stays up.
  const mark = join(tmpdir(), `adi-last-words-${process.pid}`);
  cleanups.push(() => rmSync(mark, { force: true }));
  late = { words: "done\n", holds: true };
  const script = `if [ -e ${mark} ]; then exec sleep 30; fi; touch ${mark}; sleep 0.2`;
  await m.start("job", createServiceConfig({ command: "/bin/sh", args: ["-c", script] }));
  const service = m.resolve("job");
  const exiting = service.child!;
  while (!exiting.handled) await sleep(5); // the exit is being handled: now in its wait for the pipes
  await m.start("job");
  await exiting.done;
  await sleep(50);
  expect(m.list().find((s) => s.name === "job")?.state).toBe(ServiceState.RUNNING);
  expect(service.child).not.toBe(exiting);
  expect(service.child?.pid).toBeGreaterThan(0);
  expect(service.log.tail(10).map((l) => l.text)).toContain("exited with code 0");
});
