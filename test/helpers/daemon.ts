import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonClient } from "../../src/client/index.ts";
import { ADI_BIN, BUN, MAIN, killCarrying, pidAlive, sleep, tempHome, waitFor } from "./env.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A daemon in a temporary ADI_HOME, driven through the real CLI (compiled
 * binary, or `bun src/main.ts` with `useSource`). `cleanup()` stops it, kills
 * anything it left (by pid) and removes the directory: call it in afterEach/afterAll.
 */
export class TestDaemon {
  readonly home: string;
  readonly env: Record<string, string>;
  private readonly removeDir: () => void;
  /** How the tests run adi: the compiled binary, or `bun src/main.ts`. */
  readonly argv0: string[];
  /** Extra pids a test started and wants killed at cleanup (services, grandchildren). */
  readonly extraPids = new Set<number>();

  /**
   * The CLI under test is the compiled dist/adi (what `npm test` builds), or
   * `bun src/main.ts` with `useSource` or ADI_TEST_CLI=source (no rebuild while developing).
   */
  constructor(opts: { useSource?: boolean; env?: Record<string, string> } = {}) {
    const t = tempHome();
    this.home = t.home;
    this.env = { ...t.env, ...opts.env };
    this.removeDir = t.cleanup;
    this.argv0 = opts.useSource || process.env.ADI_TEST_CLI === "source" ? [BUN, MAIN] : [ADI_BIN];
  }

  get socket(): string {
    return this.env.ADI_DAEMON_SOCKET ?? join(this.home, "daemon.sock");
  }

  get pidFile(): string {
    return this.env.ADI_DAEMON_PID ?? join(this.home, "daemon.pid");
  }

  /** Run `adi ARGS…` and collect its output. */
  async cli(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
    const proc = Bun.spawn([...this.argv0, ...args], {
      env: { ...this.env, ...opts.env },
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  }

  async start(): Promise<void> {
    const r = await this.cli(["daemon", "start"]);
    if (r.code !== 0) throw new Error(`daemon start failed (${r.code}): ${r.stderr}`);
  }

  /** The daemon's pid from its PID file, or null. */
  pid(): number | null {
    try {
      const pid = Number.parseInt(readFileSync(this.pidFile, "utf8"), 10);
      return Number.isSafeInteger(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  client(opts: { timeoutMs?: number } = {}): DaemonClient {
    return new DaemonClient({ socketPath: this.socket, env: this.env, launcher: this.argv0, ...opts });
  }

  /** Stop the daemon (IPC, then SIGKILL by pid), kill whatever else still carries this home, and remove it. */
  async cleanup(): Promise<void> {
    const pid = this.pid();
    if (pid !== null && pidAlive(pid)) {
      await this.cli(["daemon", "stop"]).catch(() => {});
      await waitFor(() => !pidAlive(pid), 15_000, "daemon exit").catch(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      });
    }
    for (const p of this.extraPids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
    await sleep(0);
    // A daemon whose start lost a race waits up to 5 s for the lock, and takes over once the
    // winner is stopped: it is not in the PID file read above (a CI run left one behind).
    if (process.platform === "linux") killCarrying(`ADI_HOME=${this.home}`);
    this.removeDir();
  }
}
