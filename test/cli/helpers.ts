import type { Subprocess } from "bun";
import { ADI_BIN, BUN, MAIN, sleep } from "../helpers/env.ts";
import type { TestDaemon } from "../helpers/daemon.ts";

/** argv of the CLI under test (same rule as TestDaemon). */
export function adiArgv(): string[] {
  return process.env.ADI_TEST_CLI === "source" ? [BUN, MAIN] : [ADI_BIN];
}

/** Generous: the machine may be slow; a passing test never waits this long. */
export const SLOW_MS = 60_000;

/**
 * A long-running `adi …` (events, logs -f) with its output collected line by
 * line as it comes. `stop()` kills it by pid (tests call it in finally).
 */
export class Running {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly lines: string[] = [];
  stderr = "";
  private readonly reading: Promise<void>;

  constructor(d: TestDaemon, args: string[], env: Record<string, string> = {}) {
    this.proc = Bun.spawn([...adiArgv(), ...args], { env: { ...d.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.reading = Promise.all([this.read(), new Response(this.proc.stderr).text().then((t) => void (this.stderr = t))]).then(() => {});
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of this.proc.stdout) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
    }
    if (partial) this.lines.push(partial);
  }

  /** Wait until some line satisfies `match`; returns its index. */
  async waitLine(match: (line: string) => boolean, what: string, from = 0, timeoutMs = SLOW_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l, k) => k >= from && match(l));
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got:\n${this.lines.join("\n")}\nstderr: ${this.stderr}`);
      await sleep(20);
    }
  }

  /** The exit code once it ends by itself (with all output read). */
  async exited(timeoutMs = SLOW_MS): Promise<number> {
    const code = await Promise.race([this.proc.exited, sleep(timeoutMs).then(() => null)]);
    if (code === null) throw new Error(`did not exit within ${timeoutMs} ms; output:\n${this.lines.join("\n")}`);
    await this.reading;
    return code;
  }

  stop(): void {
    try {
      this.proc.kill("SIGKILL");
    } catch {}
  }
}

/** POSIX shell quoting for `script -c`. */
const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

export const hasScript = Boolean(Bun.which("script"));

/**
 * Run `adi ARGS` in a pseudo-terminal (util-linux `script`): stdout and
 * stderr are both the terminal, and come back merged.
 */
export async function inPty(d: Pick<TestDaemon, "env">, args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const command = [...adiArgv(), ...args].map(quote).join(" ");
  const proc = Bun.spawn(["script", "-qfec", command, "/dev/null"], {
    env: { ...d.env, TERM: "xterm-256color", SHELL: "/bin/sh", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [output, , code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output };
}

export const ESC = "\x1b[";
