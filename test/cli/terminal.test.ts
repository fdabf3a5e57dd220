import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serviceColor } from "../../src/cli/output.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { waitFor } from "../helpers/env.ts";
import { ESC, hasScript, inPty } from "./helpers.ts";

const d = new TestDaemon();
const LONG = "payments-reconciliation-worker-eu-west";
const COLOR = { NO_COLOR: "", FORCE_COLOR: "" };
beforeAll(async () => {
  await d.start();
  expect((await d.cli(["daemon", "start", "web", "--", "sh", "-c", "echo web up; exec sleep 600"])).code).toBe(0);
  expect((await d.cli(["daemon", "start", LONG, "--", "sh", "-c", "echo worker up; exec sleep 600"])).code).toBe(0);
  expect((await d.cli(["daemon", "start", "bad", "--no-restart", "--", "sh", "-c", "exit 4"])).code).toBe(0);
  const client = d.client();
  try {
    await waitFor(async () => (await client.listServices()).find((s) => s.name === "bad")?.lastError !== "", 60_000, "bad to fail");
  } finally {
    client.close();
  }
}, 120_000);
afterAll(() => d.cleanup(), 120_000);

const ptyTest = hasScript ? test : test.skip;

describe("colour", () => {
  ptyTest("on a terminal: state, status and service names are coloured", async () => {
    const services = await inPty(d, ["daemon", "services"], COLOR);
    expect(services.code).toBe(0);
    expect(services.output).toContain(`${ESC}32mrunning`);
    const status = await inPty(d, ["daemon", "status"], COLOR);
    expect(status.output).toContain(`${ESC}32mrunning`);
    const logs = await inPty(d, ["daemon", "logs", "web", LONG], COLOR);
    expect(logs.code).toBe(0);
    expect(logs.output).toContain("worker up");
    // Each service has its own stable colour (the same code every run).
    const codes = { cyan: 36, green: 32, yellow: 33, blue: 34, magenta: 35, brightCyan: 96, brightGreen: 92, brightYellow: 93, brightBlue: 94, brightMagenta: 95 } as Record<string, number>;
    expect(logs.output).toContain(`${ESC}${codes[serviceColor("web")]}mweb`);
    expect(logs.output).toContain(`${ESC}${codes[serviceColor(LONG)]}m${LONG}`);
  }, 120_000);

  ptyTest("on a terminal with NO_COLOR: none", async () => {
    for (const args of [["daemon", "services"], ["daemon", "status"], ["daemon", "logs", "web"], ["daemon", "--help"]]) {
      const r = await inPty(d, args, { NO_COLOR: "1" });
      expect(r.output).not.toContain(ESC);
      expect(r.output.length).toBeGreaterThan(0);
    }
  }, 120_000);

  test("piped: none, and the table lines up with a long name", async () => {
    const r = await d.cli(["daemon", "services"], { env: COLOR });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(ESC);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const stateCol = lines[0]!.indexOf("STATE");
    const pidCol = lines[0]!.indexOf("PID");
    expect(stateCol).toBe(LONG.length + 2);
    for (const line of lines.slice(1)) {
      expect(line[stateCol - 1]).toBe(" ");
      expect(line.slice(stateCol)).toMatch(/^(running|failed) /);
      expect(line.slice(pidCol)).toMatch(/^(\d+|-) /);
    }
    expect(lines.find((l) => l.startsWith("bad"))).toContain("exited with code 4");
  }, 120_000);
});

describe("waiting feedback", () => {
  ptyTest("a stop that waits its stop timeout shows a spinner on a terminal", async () => {
    expect((await d.cli(["daemon", "start", "stubborn", "--stop-timeout", "1", "--", "sh", "-c", "trap '' TERM; exec sleep 600"])).code).toBe(0);
    const r = await inPty(d, ["daemon", "stop", "stubborn"], COLOR);
    expect(r.code).toBe(0);
    expect(r.output).toContain("stopping stubborn");
    expect(r.output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] stopping stubborn/);
    expect(r.output).toContain("\r\x1b[2K"); // the spinner line is cleared
    expect(r.output).toContain("stopped stubborn");
  }, 120_000);

  test("piped: no spinner, only the outcome", async () => {
    expect((await d.cli(["daemon", "start", "stubborn2", "--stop-timeout", "1", "--", "sh", "-c", "trap '' TERM; exec sleep 600"])).code).toBe(0);
    const r = await d.cli(["daemon", "stop", "stubborn2"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("stopped stubborn2\n");
  }, 120_000);

  ptyTest("several services at once: a count on the spinner, then each outcome in the order given", async () => {
    for (const n of ["s1", "s2"]) {
      expect((await d.cli(["daemon", "start", n, "--stop-timeout", "1", "--", "sh", "-c", "trap '' TERM; exec sleep 600"])).code).toBe(0);
    }
    const r = await inPty(d, ["daemon", "stop", "s2", "s1"], COLOR);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] stopping 2 services/);
    expect(r.output.replace(/\r/g, "")).toContain("stopped s2\nstopped s1\n");
  }, 120_000);

  test("several services piped: outcomes in order, a failure named, exit 1", async () => {
    const r = await d.cli(["daemon", "start", "s1", "ghost", "s2"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("started s1\nstarted s2\n");
    expect(r.stderr).toContain("no service named ghost");
    expect(r.stderr).toContain("1 of 3 services: not started");
    expect(r.stderr).not.toContain("stopping");
  }, 120_000);
});
