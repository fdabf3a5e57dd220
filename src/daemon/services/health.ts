import type { HealthProbe, HealthSpec } from "./spec.ts";

/**
 * One health probe: a command that must exit 0, or a TCP / unix-socket
 * connect that must succeed, each within `timeoutMs`. Resolves to null when
 * healthy, else to what went wrong.
 */
export async function runProbe(probe: HealthProbe, timeoutMs: number, env: Record<string, string>): Promise<string | null> {
  let timer: Timer | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`health probe timed out after ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([attempt(probe, env, timeoutMs), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function attempt(probe: HealthProbe, env: Record<string, string>, timeoutMs: number): Promise<string | null> {
  switch (probe.kind) {
    case "command": {
      let proc;
      try {
        proc = Bun.spawn(probe.argv, { env, stdin: "ignore", stdout: "ignore", stderr: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" });
      } catch (err) {
        return `health command ${probe.argv[0]} cannot run: ${(err as Error).message}`;
      }
      const code = await proc.exited;
      return code === 0 ? null : `health command exited with ${code}`;
    }
    case "tcp":
    case "unix": {
      const target = probe.kind === "tcp" ? `${probe.host}:${probe.port}` : probe.path;
      try {
        const socket =
          probe.kind === "tcp"
            ? await Bun.connect({ hostname: probe.host, port: probe.port, socket: { data() {} } })
            : await Bun.connect({ unix: probe.path, socket: { data() {} } });
        socket.end();
        return null;
      } catch (err) {
        return `cannot connect to ${target}: ${(err as Error).message}`;
      }
    }
  }
}

/**
 * Probe every `intervalMs` while `active()`; after `failureThreshold`
 * consecutive failures call `unhealthy` once. Returns a function that stops it.
 */
export function watchHealth(
  health: HealthSpec,
  env: () => Record<string, string>,
  on: { active(): boolean; passed(): void; failed(problem: string, failures: number): void; unhealthy(problem: string): void },
): () => void {
  let failures = 0;
  let probing = false;
  const timer = setInterval(async () => {
    if (probing || !on.active()) return;
    probing = true;
    const problem = await runProbe(health.probe, health.timeoutMs, env());
    probing = false;
    if (!on.active()) return;
    if (problem === null) {
      failures = 0;
      on.passed();
      return;
    }
    failures++;
    on.failed(problem, failures);
    if (failures >= health.failureThreshold) {
      clearInterval(timer);
      on.unhealthy(problem);
    }
  }, health.intervalMs);
  return () => clearInterval(timer);
}
