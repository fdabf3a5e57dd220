// Isolation is detected after the daemon starts answering (src/daemon/privilege/index.ts):
// what depends on it waits, `status` never waits long, and a detection that fails
// refuses to run anything rather than running it as the daemon's own user.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolvePaths } from "../../src/config.ts";
import type { Caller } from "../../src/daemon/caller.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { setupPrivilege } from "../../src/daemon/privilege/index.ts";
import type { IsolationPlan } from "../../src/daemon/privilege/isolation.ts";
import type { Call } from "../../src/daemon/router.ts";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { createRun, createSudoRun } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { sleep, tempHome } from "../helpers/env.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(detect: () => Promise<IsolationPlan>) {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  const warnings = new Set<string>();
  const priv = setupPrivilege({ paths, logger: createLogger(null, "info"), warnings, findBySession: () => undefined, detect, statusWaitMs: 100 });
  return { priv, warnings, paths };
}

const admin: Caller = { role: "admin", uid: 0, gid: 0, pid: 1 };
const runTrue = async (priv: ReturnType<typeof setup>["priv"]) =>
  await priv.methods.run!.handle({ id: 1, caller: admin, conn: null, request: createRun({ command: "/bin/true", args: [] }) } as unknown as Call<"run">);

const off: IsolationPlan = { enabled: false, reason: "test: off", run: { prefix: [], user: "me" }, sudo: null, sudoReason: "off", serviceUser: null, warnings: [] };

test("a detection that fails refuses run and plugin services, denies and audits sudo_run, and status says why", async () => {
  const { priv, warnings, paths } = setup(() => Promise.reject(new Error("boom")));
  await priv.detect();
  const state = await priv.isolation();
  expect(state.enabled).toBe(false);
  expect(state.reason).toContain("isolation detection failed (boom)");
  expect([...warnings].some((w) => w.includes("boom"))).toBe(true);
  expect(() => priv.runAs({ plugin: "p" })).toThrow(/isolation detection failed/);
  expect(priv.runAs({})).toBeNull(); // the owner's own services run as the owner, as in every mode
  const error = await runTrue(priv).then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AdiError);
  expect((error as AdiError).code).toBe(ErrorCode.FAILED_PRECONDITION);
  const sudo = await priv.methods.sudoRun!.handle({
    id: 2,
    caller: { role: "plugin", uid: 1000, gid: 1000, pid: 2, plugin: "p", service: "p" },
    conn: null,
    request: createSudoRun({ command: "id", args: [], reason: "test" }),
  } as unknown as Call<"sudoRun">);
  expect(sudo?.case).toBe("sudoDenied");
  expect(JSON.stringify(sudo?.value)).toContain("isolation detection failed (boom)");
  const audit = readFileSync(paths.auditLog, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(audit.at(-1)).toMatchObject({ decision: "denied", plugin: "p" });
  expect(audit.at(-1).deny_reason).toContain("isolation detection failed (boom)");
});

test("a detection that rejects with no Error at all is still a refusal, never stuck", async () => {
  const { priv } = setup(() => Promise.reject(undefined));
  await priv.detect();
  expect((await priv.isolation()).reason).toContain("isolation detection failed (undefined)");
});

test("while detection runs, status answers after a short wait and run waits for the answer", async () => {
  let finish!: (plan: IsolationPlan) => void;
  const { priv } = setup(() => new Promise((r) => (finish = r)));
  void priv.detect();
  expect(() => priv.runAs({ plugin: "p" })).toThrow(/still being detected/);
  const t0 = performance.now();
  expect(await priv.isolation()).toEqual({ enabled: false, reason: "still being detected (sudo -n probes are running)" });
  expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
  let ran = false;
  const running = runTrue(priv).then(() => (ran = true));
  await sleep(50);
  expect(ran).toBe(false);
  finish(off);
  await running;
  expect(ran).toBe(true);
  expect(await priv.isolation()).toEqual({ enabled: false, reason: "test: off" });
  expect(priv.runAs({ plugin: "p" })).toBeNull();
});

test("while detection runs, the owner's services may spawn at once, a plugin's wait for the answer", async () => {
  let finish!: (plan: IsolationPlan) => void;
  const { priv } = setup(() => new Promise((r) => (finish = r)));
  void priv.detect();
  let owner = false;
  let plugin = false;
  void priv.spawnReady({}).then(() => (owner = true));
  void priv.spawnReady({ plugin: "p" }).then(() => (plugin = true));
  await sleep(50);
  expect([owner, plugin]).toEqual([true, false]);
  expect(priv.runAs({})).toBeNull(); // what the owner's service runs as is known without the probes
  finish(off);
  await priv.ready;
  await sleep(0);
  expect(plugin).toBe(true);
});
