import type { HealthProbe, HealthSpec } from "./spec.ts";

/** A probe under way: its outcome, and how to end whatever is left of it. */
interface Attempt {
  result: Promise<string | null>;
  end(): void;
}

/**
 * One health probe: a command that must exit 0, or a TCP / unix-socket
 * connect that must succeed, each within `timeoutMs`. Resolves to null when
 * healthy, else to what went wrong. Nothing of it outlives the call: the
 * command's process group is KILLed (a probe `sh -c 'curl … | grep …'` left
 * its pipeline behind, reparented to init, on every timeout), and a connect
 * still pending is closed (one left to the kernel held a socket in SYN-SENT
 * for ≈ 2 minutes, a descriptor each).
 */
export async function runProbe(probe: HealthProbe, timeoutMs: number, env: Record<string, string>, cwd?: string): Promise<string | null> {
  const attempt = await start(probe, env, cwd);
  let timer: Timer | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`health probe timed out after ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([attempt.result, timeout]);
  } finally {
    clearTimeout(timer);
    attempt.end();
  }
}

async function start(probe: HealthProbe, env: Record<string, string>, cwd: string | undefined): Promise<Attempt> {
  switch (probe.kind) {
    case "command": {
      let proc;
      try {
        // Its own process group, in the service's directory (a relative `./check.sh` is the service's).
        proc = Bun.spawn(probe.argv, { env, cwd, stdin: "ignore", stdout: "ignore", stderr: "ignore", detached: true });
      } catch (err) {
        return { result: Promise.resolve(`health command ${probe.argv[0]} cannot run: ${(err as Error).message}`), end() {} };
      }
      const pid = proc.pid;
      return {
        result: proc.exited.then((code) => (code === 0 ? null : `health command exited with ${code}`)),
        end() {
          // The group outlives its leader while any member lives; the kernel hands out no pid still used as a group id.
          try {
            process.kill(-pid, "SIGKILL");
          } catch {}
        },
      };
    }
    case "tcp":
    case "unix": {
      const target = probe.kind === "tcp" ? `${probe.host}:${probe.port}` : probe.path;
      // node:net, not Bun.connect: its socket exists before the connect completes, so a timeout can close it.
      const { connect } = await import("node:net");
      const socket = probe.kind === "tcp" ? connect({ host: probe.host, port: probe.port }) : connect({ path: probe.path });
      const result = new Promise<string | null>((resolve) => {
        socket.once("connect", () => resolve(null));
        socket.once("error", (err) => resolve(`cannot connect to ${target}: ${err.message}`));
      });
      return { result, end: () => socket.destroy() };
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
  cwd: string | undefined,
  on: { active(): boolean; passed(): void; failed(problem: string, failures: number): void; unhealthy(problem: string): void },
): () => void {
  let failures = 0;
  let probing = false;
  const timer = setInterval(async () => {
    if (probing || !on.active()) return;
    probing = true;
    const problem = await runProbe(health.probe, health.timeoutMs, env(), cwd);
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
